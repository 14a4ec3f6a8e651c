// Whether the app runs inside ML Lab. Known for sure from GET /users/me (auth_mode); before
// anyone is signed in, guessed from what ML Lab leaves behind: the last mode seen, a
// "?project=" in the route, the page being embedded, or a configured ML Lab endpoint.
import { contaxyConfigured } from '@/lib/env';

const KEY = 'lwm.auth_mode';

export function rememberMode(mode: string): void {
  try {
    localStorage.setItem(KEY, mode);
  } catch {
    // Storage may be disabled; the guess below still works.
  }
}

function rememberedMode(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function probablyInMlLab(search: string): boolean {
  const remembered = rememberedMode();
  if (remembered) return remembered === 'mllab';
  return contaxyConfigured() || new URLSearchParams(search).has('project') || window.self !== window.top;
}
