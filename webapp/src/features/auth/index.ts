// The auth feature's public surface: other features and src/app import only from here.
export { useMe } from './api/get-me';
export { useLogout } from './api/logout';
export { AuthGate } from './components/AuthGate';
export { HomeRedirect } from './components/HomeRedirect';
export { SignInPage } from './components/SignInPage';
export { installUnauthorizedHandler } from './unauthorized';
