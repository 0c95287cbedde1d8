export { NameRegistry, NAME_SUFFIXES, type NamedKind, type Rng } from './names';
export { RELATIONS, PROFESSIONS, INSTRUMENTS, fillTemplate, reservedWords, type EntityType, type RelationSpec } from './relations';
export {
  generateWorld,
  resolveWorldOptions,
  worldSentences,
  WORLD_GENERATOR_VERSION,
  WORLD_PERSONS_RANGE,
  DEFAULT_WORLD_PERSONS,
  type World,
  type WorldOptions,
  type ResolvedWorldOptions,
  type WorldFact,
  type FactRole,
  type WorldEditRecord,
  type RetentionFact,
  type PromptAnswer,
  type FactSentence,
} from './generate';
export { writeWorld, readWorldDir, WORLD_FILES } from './write';
