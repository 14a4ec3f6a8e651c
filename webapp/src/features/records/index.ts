// The records feature's public surface (the audit log and usage accounting).
export { AuditPage } from './components/AuditPage';
export { UsagePage } from './components/UsagePage';
