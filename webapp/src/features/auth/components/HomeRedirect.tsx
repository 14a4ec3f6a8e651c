import { Navigate, useLocation } from 'react-router';
import { useMe } from '../api/get-me';

/** `#/` → the signed-in user's own list (inside AuthGate, so `me` is there). */
export function HomeRedirect() {
  const { data: me } = useMe();
  const location = useLocation();
  if (!me) return null;
  return (
    <Navigate to={{ pathname: `/users/${encodeURIComponent(me.id)}/workspace`, search: location.search }} replace />
  );
}
