// Names for the generated schemas (nothing hand-written: all from the backend's OpenAPI).
import type { components } from './schema';

type Schemas = components['schemas'];
export type Workspace = Schemas['Workspace'];
export type WorkspaceStatus = Schemas['WorkspaceStatus'];
export type WorkspaceInput = Schemas['WorkspaceInput'];
export type WorkspaceUpdate = Schemas['WorkspaceUpdate'];
export type WorkspaceStats = Schemas['WorkspaceStats'];
export type WorkspaceEvent = Schemas['WorkspaceEvent'];
export type WorkspacePage = Schemas['WorkspacePage'];
export type ConfigOptions = Schemas['WorkspaceConfigOptions'];
export type ImageOption = Schemas['ImageOption'];
export type Me = Schemas['Me'];
export type TokenInfo = Schemas['TokenInfo'];
export type TokenRequest = Schemas['TokenRequest'];
export type IssuedToken = Schemas['IssuedTokenResponse'];
export type KeptVolume = Schemas['KeptVolume'];
export type Share = Schemas['Share'];
export type ShareAccess = Schemas['ShareAccess'];
export type SharedWorkspace = Schemas['SharedWorkspace'];
export type Schedule = Schemas['Schedule'];
export type Weekday = Schemas['Weekday'];
export type TemplateView = Schemas['TemplateView'];
export type TemplateInput = Schemas['TemplateInput'];
export type TemplateUse = Schemas['TemplateUse'];
export type AuditEntry = Schemas['AuditEntry'];
export type UsageRow = Schemas['UsageRow'];
export type Snapshot = Schemas['Snapshot'];
