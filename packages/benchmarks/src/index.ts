export * from './datasets';
export * from './testbed';
export * from './progress';
export * from './eval';
export * from './report';
export * from './runner';
export { main, benchCommands, runCommand, parseRunArgs, readPretrainSettings, RUN_DEFAULTS } from './cli/main';
export { aggregateCommand } from './cli/aggregate-command';
