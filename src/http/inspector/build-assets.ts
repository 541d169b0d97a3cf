/**
 * The `npm run build` step that bundles the inspector page into `dist/inspector-assets/`
 * (run as `node dist/http/inspector/build-assets.js` once tsc has compiled it).
 */
import { BUILT_DIR, writeInspectorAssets } from "./bundle.js";

const names = await writeInspectorAssets();
process.stdout.write(`inspector: wrote ${names.join(", ")} to ${BUILT_DIR}\n`);
