// The built-in test bed: a seeded fictional fact world (world/) and the small models pretrained on it or on any
// record file (pretrain/), in the sizes modelSize.ts names. Everything else in the package only consumes it.
export * from './world';
export * from './pretrain';
export * from './modelSize';
