export function AllWorkspacesPage() { return null; }
