import '@testing-library/jest-dom/vitest';
import { cleanup, configure } from '@testing-library/react';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { FakeEventSource } from './fake-event-source';
import { server } from './server';

// jsdom has neither EventSource nor matchMedia (MUI asks for the colour scheme).
Object.assign(globalThis, { EventSource: FakeEventSource });
window.matchMedia ??= (query: string) =>
  ({
    matches: false,
    media: query,
    onchange: null,
    addEventListener: () => {},
    removeEventListener: () => {},
    addListener: () => {},
    removeListener: () => {},
    dispatchEvent: () => false,
  }) as MediaQueryList;

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
beforeEach(() => {
  FakeEventSource.instances = [];
  localStorage.clear();
});
afterEach(() => {
  cleanup();
  server.resetHandlers();
  window.location.hash = '';
});
afterAll(() => server.close());

// Role queries skip jsdom's slow visibility checks (getComputedStyle on every element);
// the browser tests check what is really visible.
configure({ defaultHidden: true });
