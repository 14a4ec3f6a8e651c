// The config feature's public surface: other features and src/app import only from here.
export { useConfig } from './api/get-config';
export { useHealth } from './api/get-health';
