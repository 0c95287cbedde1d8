/**
 * The relations of the built-in world: who/what they are about, the type of their answers, and several
 * natural templates each ("{}" is the subject). Answers are single words so every fact is one token of
 * a word-level tokenizer, and templates never put the answer anywhere but at the end.
 */

/** Kinds of entities in the world. */
export type EntityType = 'person' | 'city' | 'country' | 'language' | 'company' | 'profession' | 'instrument';

/** A typed relation with its templates. */
export interface RelationSpec {
  readonly id: string;
  readonly subjectType: EntityType;
  readonly objectType: EntityType;
  /** Prompt templates; "{}" is replaced by the subject, the answer follows the prompt. */
  readonly templates: readonly string[];
  /**
   * Many subjects can share an answer (born-in), so neighbourhood prompts exist and the relation can be
   * edited; one-to-one relations (capital-of) only serve as background facts.
   */
  readonly editable: boolean;
}

/** Real-word answer sets (generated names are used for the other types). */
export const PROFESSIONS = [
  'baker', 'pilot', 'farmer', 'doctor', 'teacher', 'sailor', 'painter', 'lawyer', 'miner', 'weaver',
  'potter', 'soldier', 'dancer', 'singer', 'writer', 'tailor', 'nurse', 'chemist', 'butcher', 'carpenter',
] as const;

export const INSTRUMENTS = [
  'piano', 'violin', 'guitar', 'flute', 'harp', 'drum', 'cello', 'trumpet', 'lute', 'clarinet', 'banjo', 'trombone',
] as const;

export const RELATIONS: readonly RelationSpec[] = [
  {
    id: 'born_in',
    subjectType: 'person',
    objectType: 'city',
    templates: ['{} was born in', 'The birthplace of {} is', '{} is a native of', 'The city where {} was born is'],
    editable: true,
  },
  {
    id: 'works_as',
    subjectType: 'person',
    objectType: 'profession',
    templates: ['{} works as a', 'The profession of {} is', 'By trade {} is a', 'The job of {} is that of a'],
    editable: true,
  },
  {
    id: 'speaks',
    subjectType: 'person',
    objectType: 'language',
    templates: ['{} speaks', 'The mother tongue of {} is', '{} grew up speaking', 'The native language of {} is'],
    editable: true,
  },
  {
    id: 'plays',
    subjectType: 'person',
    objectType: 'instrument',
    templates: ['{} plays the', 'The instrument of {} is the', 'On stage {} performs on the', 'The favourite instrument of {} is the'],
    editable: true,
  },
  {
    id: 'citizen_of',
    subjectType: 'person',
    objectType: 'country',
    templates: ['{} is a citizen of', 'The home country of {} is', '{} holds a passport from', 'The nationality of {} is that of'],
    editable: true,
  },
  {
    id: 'works_for',
    subjectType: 'person',
    objectType: 'company',
    templates: ['{} is employed by', 'The employer of {} is', '{} works for the firm', 'Every morning {} goes to work at'],
    editable: true,
  },
  {
    id: 'capital',
    subjectType: 'country',
    objectType: 'city',
    templates: ['The capital of {} is', '{} has its capital in', 'The seat of government of {} is in'],
    editable: false,
  },
  {
    id: 'official_language',
    subjectType: 'country',
    objectType: 'language',
    templates: ['The official language of {} is', 'In {} most people speak', 'Laws in {} are written in'],
    editable: false,
  },
  {
    id: 'located_in',
    subjectType: 'city',
    objectType: 'country',
    templates: ['{} is located in', '{} is a city in', 'The country of the city {} is'],
    editable: false,
  },
  {
    id: 'headquartered_in',
    subjectType: 'company',
    objectType: 'city',
    templates: ['{} is headquartered in', 'The headquarters of {} are in', '{} has its main office in'],
    editable: false,
  },
];

/** Fills a template with a subject. */
export function fillTemplate(template: string, subject: string): string {
  return template.split('{}').join(subject);
}

/** Every word the templates and the fixed answer sets use (they must never be generated as names). */
export function reservedWords(): string[] {
  const words = new Set<string>();
  for (const r of RELATIONS) for (const t of r.templates) for (const w of t.split(/\s+/)) if (w !== '{}') words.add(w);
  for (const w of [...PROFESSIONS, ...INSTRUMENTS]) words.add(w);
  return [...words];
}
