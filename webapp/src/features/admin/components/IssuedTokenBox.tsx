import { Alert, Button, Stack, TextField } from '@mui/material';
import { useState } from 'react';
import type { IssuedToken } from '@/api/types';

/** The new token, shown once: the server keeps only its id. */
export function IssuedTokenBox({ issued, onDone }: { issued: IssuedToken; onDone: () => void }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  const copy = () =>
    navigator.clipboard.writeText(issued.token).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  return (
    <Alert severity="success" role="status" sx={{ mt: 2, '& .MuiAlert-message': { width: '100%' } }}>
      Token for <strong>{issued.user_id}</strong>. Copy it now and give it to them: it is not shown again.
      <Stack direction={{ xs: 'column', sm: 'row' }} spacing={1} sx={{ mt: 1 }}>
        <TextField
          label="New token"
          value={issued.token}
          fullWidth
          size="small"
          slotProps={{
            htmlInput: { readOnly: true, onFocus: (e: React.FocusEvent<HTMLInputElement>) => e.target.select() },
          }}
        />
        <Button variant="outlined" onClick={() => void copy()}>
          Copy
        </Button>
        <Button onClick={onDone}>Done</Button>
      </Stack>
      <span aria-live="polite">
        {copied === true ? 'Copied.' : copied === false ? 'Copying failed: select the token and copy it.' : ''}
      </span>
    </Alert>
  );
}
