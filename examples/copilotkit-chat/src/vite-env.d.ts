/// <reference types="vite/client" />

interface ImportMetaEnv {
  readonly VITE_THREADLINE_URL?: string;
  readonly VITE_THREADLINE_THREAD?: string;
  readonly VITE_THREADLINE_TOKEN?: string;
}
