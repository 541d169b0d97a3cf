/**
 * The Threadline inspector, served at `/`: threads and schedules on the side, one thread live in
 * the main area (`#/t/<threadId>`), or one of its runs (`#/t/<threadId>/r/<runId>`). Plain DOM,
 * no framework: the page stays small and fast.
 */
import { ThreadlineError } from "../core/errors.js";
import { Api, NETWORK_ERROR } from "./api.js";
import { h, setText } from "./dom.js";
import { SchedulesPanel } from "./schedules.js";
import { ThreadList } from "./thread-list.js";
import { ThreadView } from "./thread-view.js";
import { TokenPrompt } from "./token-prompt.js";

/** Lists are re-read this often while the page is visible. */
const POLL_MS = 3_000;

// The API lives where the page is served (it may be mounted under a path prefix).
const api = new Api(new URL(".", location.href).href);
const prompt = new TokenPrompt(api, document.body);

let agentsPromise: Promise<string[]> | undefined;
const agents = () => {
  agentsPromise ??= api.agents().catch((error: unknown) => {
    agentsPromise = undefined;
    throw error;
  });
  return agentsPromise;
};

const serverStatus = h("span", { class: "server-status", "data-testid": "server-status" });
const forget = h("button", { type: "button", class: "small", hidden: true }, "Forget token");
forget.addEventListener("click", () => {
  api.setToken(null);
  location.reload();
});

const reportError = (error: unknown) => {
  const e = ThreadlineError.is(error) ? error : undefined;
  if (e?.status === 401) return; // the token prompt takes it from here
  serverStatus.dataset.state = "error";
  setText(
    serverStatus,
    e?.code === NETWORK_ERROR ? "server unreachable, retrying…" : (e?.message ?? String(error)),
  );
};

const threads = new ThreadList(api, reportError);
const schedules = new SchedulesPanel(api, agents);
const main = h("main", { class: "main", id: "main" });
const home = h(
  "div",
  { class: "home panel" },
  h("h2", null, "Pick a thread"),
  h(
    "p",
    { class: "muted" },
    "Threads run again and again: from this page, a client, a schedule, a heartbeat or a webhook. " +
      "Open one to watch its runs arrive live.",
  ),
);

document
  .getElementById("app")
  ?.replaceChildren(
    h(
      "header",
      { class: "top" },
      h(
        "h1",
        { class: "brand" },
        h("a", { href: "#/" }, "Threadline ", h("span", null, "inspector")),
      ),
      serverStatus,
      forget,
    ),
    h(
      "div",
      { class: "layout" },
      h(
        "aside",
        { class: "sidebar", "aria-label": "Threads and schedules" },
        threads.el,
        schedules.el,
      ),
      main,
    ),
  );

async function refreshLists(): Promise<void> {
  if (prompt.open) return;
  try {
    await Promise.all([threads.refresh(), schedules.refresh()]);
    serverStatus.dataset.state = "ok";
    setText(serverStatus, "connected");
    forget.hidden = api.token === null;
  } catch (error) {
    reportError(error);
  }
}

const decode = (part: string | undefined) => {
  try {
    return part === undefined ? undefined : decodeURIComponent(part);
  } catch {
    return part; // a hand-typed `%` that is not an escape: take it as it is
  }
};

let view: ThreadView | undefined;
function route(): void {
  const match = /^#\/t\/([^/]+)(?:\/r\/([^/]+))?\/?$/.exec(location.hash);
  const threadId = decode(match?.[1]);
  const runId = decode(match?.[2]);
  if (!view || view.threadId !== threadId) {
    view?.dispose();
    view = threadId ? new ThreadView(threadId, { api, prompt, agents }) : undefined;
    main.replaceChildren(view ? view.el : home);
  }
  view?.showRun(runId);
  document.body.classList.toggle("has-thread", Boolean(view));
  document.title = [runId && `run ${runId}`, threadId, "Threadline inspector"]
    .filter(Boolean)
    .join(" · ");
  threads.select(threadId);
}

api.onAuthRequired((error) => {
  void prompt.ask(error).then(refreshLists);
});
window.addEventListener("hashchange", route);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") void refreshLists();
});
setInterval(() => {
  if (document.visibilityState === "visible") void refreshLists();
}, POLL_MS);
route();
void refreshLists();
