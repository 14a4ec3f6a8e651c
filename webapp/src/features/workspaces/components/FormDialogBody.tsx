import { Alert, Button, DialogActions, DialogContent } from '@mui/material';
import type { ReactNode } from 'react';
import { errorMessage } from '@/lib/errors';

type Props = {
  children: ReactNode;
  /** The request's failure, shown verbatim under the fields (announced: role="alert"). */
  error: Error | null;
  pending: boolean;
  submitLabel: string;
  onCancel: () => void;
};

/**
 * The create and settings dialogs' shared end: their fields, the request's error under them,
 * and Cancel next to the submit button (which shows the request pending). The error stays in
 * the scrolling content and the buttons stay in view; the enclosing form handles the submit.
 */
export function FormDialogBody({ children, error, pending, submitLabel, onCancel }: Props) {
  return (
    <>
      <DialogContent>
        {children}
        {error && (
          <Alert severity="error" role="alert" sx={{ mt: 2 }}>
            {errorMessage(error)}
          </Alert>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onCancel}>Cancel</Button>
        <Button type="submit" variant="contained" loading={pending}>
          {submitLabel}
        </Button>
      </DialogActions>
    </>
  );
}
