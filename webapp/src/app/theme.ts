import { createTheme, useMediaQuery } from '@mui/material';
import { useMemo } from 'react';

/** MUI's theme in the system's colour scheme (prefers-color-scheme), switching live. */
export function useSystemTheme() {
  const dark = useMediaQuery('(prefers-color-scheme: dark)', { noSsr: true });
  return useMemo(() => {
    const focusRing = { outline: `3px solid ${dark ? '#90caf9' : '#1565c0'}`, outlineOffset: 2 };
    return createTheme({
      palette: { mode: dark ? 'dark' : 'light', primary: { main: dark ? '#90caf9' : '#1565c0' } },
      shape: { borderRadius: 8 },
      components: {
        // MUI marks keyboard focus with a faint ripple only; a solid ring is visible on every
        // button, tab, checkbox and link, in both schemes.
        MuiButtonBase: { styleOverrides: { root: { '&.Mui-focusVisible': focusRing } } },
        MuiLink: { styleOverrides: { root: { '&:focus-visible': focusRing } } },
      },
    });
  }, [dark]);
}
