/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Base URL of this manager's API; default `../api`, relative to the app's own address. */
  readonly REACT_APP_EXTENSION_ENDPOINT?: string;
  /** ML Lab's API, when the app runs as an ML Lab extension (only read to know the mode). */
  readonly REACT_APP_CONTAXY_ENDPOINT?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
