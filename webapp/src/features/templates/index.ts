// The templates feature's public surface: other features and src/app import only from here.
export { useApplyTemplate, useTemplates } from './api/templates';
export { TemplatesPage } from './components/TemplatesPage';
