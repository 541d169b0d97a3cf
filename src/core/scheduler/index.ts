export { type SchedulerClock, systemClock, type TimerHandle } from "./clock.js";
export { ManualClock } from "./manual-clock.js";
export { nextFireAfter } from "./next-fire.js";
export { materializeInput } from "./schedule-records.js";
export { inputTemplateSchema, MIN_EVERY_MS } from "./schedule-schema.js";
export {
  CATCH_UP_POLICIES,
  type CatchUpPolicy,
  type InputTemplate,
  type ScheduleInput,
  type ScheduleRecord,
  type TemplateMessage,
} from "./schedule-types.js";
export { Scheduler, type SchedulerOptions } from "./scheduler.js";
