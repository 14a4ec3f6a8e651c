// The admin feature's public surface: other features and src/app import only from here.
export { AllSharesPage } from './components/AllSharesPage';
export { AllWorkspacesPage } from './components/AllWorkspacesPage';
export { MetricsPage } from './components/MetricsPage';
export { TokensPage } from './components/TokensPage';
