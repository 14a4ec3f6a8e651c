import { createTheme, useMediaQuery } from '@mui/material';
import { useMemo } from 'react';

/** MUI's theme in the system's colour scheme (prefers-color-scheme), switching live. */
export function useSystemTheme() {
  const dark = useMediaQuery('(prefers-color-scheme: dark)', { noSsr: true });
  return useMemo(
    () =>
      createTheme({
        palette: { mode: dark ? 'dark' : 'light', primary: { main: dark ? '#90caf9' : '#1565c0' } },
        shape: { borderRadius: 8 },
        components: {
          // A focus ring that is visible on every control, in both schemes.
          MuiButtonBase: { defaultProps: { disableRipple: false } },
          MuiCssBaseline: {
            styleOverrides: {
              ':focus-visible': { outline: `3px solid ${dark ? '#90caf9' : '#1565c0'}`, outlineOffset: 2 },
            },
          },
        },
      }),
    [dark],
  );
}
