/**
 * A seeded fictional fact world: made-up people, cities, countries, languages and companies, typed
 * relations between them, and counterfactual edit requests in the CounterFact (EasyEdit) format.
 *
 * Roles of facts, chosen so the benchmark measures what it claims:
 * - `edit`: the one fact of an edit-pool person that a request rewrites;
 * - `fixed`: every other fact of non-held-out entities; they are never edited, so neighbourhood and
 *   unrelated prompts drawn from them keep their answers for the whole stream;
 * - `retention`: all facts of held-out persons, never edited and never used as a locality prompt.
 */
import { SeededRandom } from '@hiedit/tensor-core';
import { NameRegistry, type Rng } from './names';
import { fillTemplate, INSTRUMENTS, PROFESSIONS, RELATIONS, reservedWords, type EntityType, type RelationSpec } from './relations';

/** Version of the generator; part of every cache key, bumped whenever the output for a seed changes. */
export const WORLD_GENERATOR_VERSION = 1;

/** Smallest and largest `persons` a world may have (inclusive). */
export const WORLD_PERSONS_RANGE: readonly [number, number] = [20, 5000];

/** Default number of people: 136 edit requests, sized so `npm start` stays within minutes. */
export const DEFAULT_WORLD_PERSONS = 200;

/** Options of {@link generateWorld}. */
export interface WorldOptions {
  readonly seed: number;
  /**
   * Number of generated people (the subjects of edits), in {@link WORLD_PERSONS_RANGE}. Default 200.
   * About 0.68 edit requests per person (0.85 not held out x 0.8 edited): 2000 people give 1360.
   */
  readonly persons?: number;
  /** How many of the 6 person relations each person has a fact for. Default 2 (keeps pretraining short). */
  readonly relationsPerPerson?: number;
  /** Fraction of people held out entirely for the retention set. Default 0.15. */
  readonly retentionFraction?: number;
  /** Fraction of the other people that receive one edit request. Default 0.8. */
  readonly editFraction?: number;
  /** Neighbourhood prompts per request (at least one is guaranteed). Default 2. */
  readonly neighborsPerEdit?: number;
  /** Unrelated prompts per request. Default 2. */
  readonly unrelatedPerEdit?: number;
}

/** The options with every default filled in (these are what a cache key hashes). */
export type ResolvedWorldOptions = Required<WorldOptions>;

export type FactRole = 'edit' | 'fixed' | 'retention';

/** A true fact of the world. */
export interface WorldFact {
  readonly subject: string;
  readonly relation: string;
  readonly answer: string;
  readonly role: FactRole;
}

/** A {prompt, ground_truth} pair of the EasyEdit extension fields. */
export interface PromptAnswer {
  readonly prompt: string;
  readonly ground_truth: string;
}

/** One request as written to edits.json (EasyEdit CounterFact + documented extension fields). */
export interface WorldEditRecord {
  readonly case_id: number;
  readonly prompt: string;
  readonly subject: string;
  readonly target_new: string;
  readonly ground_truth: string;
  readonly rephrase_prompt: string;
  readonly locality_prompt: string;
  readonly locality_ground_truth: string;
  readonly relation_id: string;
  readonly paraphrase_prompts: string[];
  readonly neighborhood_prompts: PromptAnswer[];
  readonly unrelated_prompts: PromptAnswer[];
}

/** A held-out fact as written to retention.json. */
export interface RetentionFact {
  readonly prompt: string;
  readonly answer: string;
  readonly subject: string;
  readonly relation: string;
}

/** A generated world. */
export interface World {
  readonly version: number;
  readonly options: ResolvedWorldOptions;
  readonly entities: Readonly<Record<EntityType, readonly string[]>>;
  readonly relations: readonly RelationSpec[];
  readonly facts: readonly WorldFact[];
  readonly edits: readonly WorldEditRecord[];
  readonly retention: readonly RetentionFact[];
}

/** Fills defaults and checks ranges, naming the bad option. */
export function resolveWorldOptions(o: WorldOptions): ResolvedWorldOptions {
  const r: ResolvedWorldOptions = {
    seed: o.seed,
    persons: o.persons ?? DEFAULT_WORLD_PERSONS,
    relationsPerPerson: o.relationsPerPerson ?? 2,
    retentionFraction: o.retentionFraction ?? 0.15,
    editFraction: o.editFraction ?? 0.8,
    neighborsPerEdit: o.neighborsPerEdit ?? 2,
    unrelatedPerEdit: o.unrelatedPerEdit ?? 2,
  };
  const personRelations = RELATIONS.filter((x) => x.subjectType === 'person').length;
  const check = (ok: boolean, name: keyof WorldOptions, what: string): void => {
    if (!ok) throw new Error(`generateWorld: option ${name} ${what}, got ${String(r[name])}`);
  };
  check(Number.isInteger(r.seed), 'seed', 'must be an integer');
  const [minP, maxP] = WORLD_PERSONS_RANGE;
  check(Number.isInteger(r.persons) && r.persons >= minP && r.persons <= maxP, 'persons', `must be an integer in ${minP}..${maxP}`);
  check(
    Number.isInteger(r.relationsPerPerson) && r.relationsPerPerson >= 1 && r.relationsPerPerson <= personRelations,
    'relationsPerPerson',
    `must be an integer in 1..${personRelations}`,
  );
  check(r.retentionFraction > 0 && r.retentionFraction < 0.5, 'retentionFraction', 'must be in (0, 0.5)');
  check(r.editFraction > 0 && r.editFraction <= 1, 'editFraction', 'must be in (0, 1]');
  check(Number.isInteger(r.neighborsPerEdit) && r.neighborsPerEdit >= 1, 'neighborsPerEdit', 'must be an integer >= 1');
  check(Number.isInteger(r.unrelatedPerEdit) && r.unrelatedPerEdit >= 0, 'unrelatedPerEdit', 'must be an integer >= 0');
  return r;
}

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

/** `k` distinct elements of `xs` in seeded order. */
function sample<T>(rng: Rng, xs: readonly T[], k: number): T[] {
  return rng.shuffle([...xs]).slice(0, Math.min(k, xs.length));
}

const factKey = (relation: string, answer: string): string => `${relation}\u0000${answer}`;

/** Generates the world for `opts.seed`; the same options always give the same world. */
export function generateWorld(opts: WorldOptions): World {
  const o = resolveWorldOptions(opts);
  const root = new SeededRandom(o.seed);
  const rng = root.fork('world');
  const names = new NameRegistry(root.fork('names'), reservedWords());
  const P = o.persons;
  const countries = names.many('country', Math.max(4, Math.round(P / 25)));
  const entities: Record<EntityType, string[]> = {
    person: names.many('person', P),
    city: names.many('city', Math.max(countries.length + 4, Math.round(P / 8))),
    country: countries,
    language: names.many('language', Math.max(4, Math.round(P / 25))),
    company: names.many('company', Math.max(4, Math.round(P / 20))),
    profession: [...PROFESSIONS],
    instrument: [...INSTRUMENTS],
  };

  const relation = new Map(RELATIONS.map((r) => [r.id, r]));
  const rel = (id: string): RelationSpec => relation.get(id)!;
  const personRelations = RELATIONS.filter((r) => r.subjectType === 'person');

  // Background facts about places and companies. Capitals are distinct and lie in their own country.
  type Draft = { subject: string; relation: string; answer: string; role: FactRole };
  const drafts: Draft[] = [];
  const capitals = sample(rng, entities.city, countries.length);
  const countryOfCity = new Map<string, string>();
  countries.forEach((c, i) => {
    drafts.push({ subject: c, relation: 'capital', answer: capitals[i], role: 'fixed' });
    countryOfCity.set(capitals[i], c);
    drafts.push({ subject: c, relation: 'official_language', answer: pick(rng, entities.language), role: 'fixed' });
  });
  for (const city of entities.city) {
    drafts.push({ subject: city, relation: 'located_in', answer: countryOfCity.get(city) ?? pick(rng, countries), role: 'fixed' });
  }
  for (const co of entities.company) drafts.push({ subject: co, relation: 'headquartered_in', answer: pick(rng, entities.city), role: 'fixed' });

  // People: a seeded subset of relations each, answers uniform over the relation's object type.
  const people = rng.shuffle([...entities.person]);
  const nRetention = Math.max(1, Math.round(P * o.retentionFraction));
  const retentionPeople = new Set(people.slice(0, nRetention));
  const personFacts = new Map<string, Draft[]>();
  for (const p of entities.person) {
    const fs = sample(rng, personRelations, o.relationsPerPerson).map((r) => ({
      subject: p,
      relation: r.id,
      answer: pick(rng, entities[r.objectType]),
      role: (retentionPeople.has(p) ? 'retention' : 'fixed') as FactRole,
    }));
    personFacts.set(p, fs);
    drafts.push(...fs);
  }

  // Holders of each (relation, answer) among fixed person facts: the pool of neighbourhood prompts.
  const holders = new Map<string, Set<string>>();
  for (const d of drafts) {
    if (d.role !== 'fixed' || !rel(d.relation).editable) continue;
    const k = factKey(d.relation, d.answer);
    if (!holders.has(k)) holders.set(k, new Set());
    holders.get(k)!.add(d.subject);
  }

  // Choose edits: a fact may be edited only if another fixed holder of its (relation, answer) remains,
  // so every request — including earlier ones sharing that pair — keeps at least one neighbour.
  const editPool = people.slice(nRetention);
  const nEdits = Math.round(editPool.length * o.editFraction);
  const edited: Draft[] = [];
  for (const p of editPool) {
    if (edited.length >= nEdits) break;
    const options = personFacts.get(p)!.filter((d) => (holders.get(factKey(d.relation, d.answer))?.size ?? 0) >= 2);
    if (options.length === 0) continue;
    const d = pick(rng, options);
    d.role = 'edit';
    holders.get(factKey(d.relation, d.answer))!.delete(p);
    edited.push(d);
  }

  const fixedFacts = drafts.filter((d) => d.role === 'fixed');
  const templateRng = root.fork('templates');
  const edits: WorldEditRecord[] = edited.map((d, caseId) => {
    const r = rel(d.relation);
    const templates = templateRng.shuffle([...r.templates]);
    const prompt = fillTemplate(templates[0], d.subject);
    const paraphrases = templates.slice(1).map((t) => fillTemplate(t, d.subject));
    const others = entities[r.objectType].filter((x) => x !== d.answer);
    const targetNew = pick(templateRng, others);
    const neighbours = sample(templateRng, [...holders.get(factKey(d.relation, d.answer))!].sort(), o.neighborsPerEdit).map(
      (s) => ({ prompt: fillTemplate(pick(templateRng, r.templates), s), ground_truth: d.answer }),
    );
    const unrelatedPool = fixedFacts.filter((f) => f.relation !== d.relation && f.subject !== d.subject);
    const unrelated = sample(templateRng, unrelatedPool, o.unrelatedPerEdit).map((f) => ({
      prompt: fillTemplate(pick(templateRng, rel(f.relation).templates), f.subject),
      ground_truth: f.answer,
    }));
    return {
      case_id: caseId,
      prompt,
      subject: d.subject,
      target_new: targetNew,
      ground_truth: d.answer,
      rephrase_prompt: paraphrases[0],
      locality_prompt: neighbours[0].prompt,
      locality_ground_truth: neighbours[0].ground_truth,
      relation_id: d.relation,
      paraphrase_prompts: paraphrases,
      neighborhood_prompts: neighbours,
      unrelated_prompts: unrelated,
    };
  });

  const retention: RetentionFact[] = drafts
    .filter((d) => d.role === 'retention')
    .map((d) => ({ prompt: fillTemplate(pick(templateRng, rel(d.relation).templates), d.subject), answer: d.answer, subject: d.subject, relation: d.relation }));

  return {
    version: WORLD_GENERATOR_VERSION,
    options: o,
    entities,
    relations: RELATIONS,
    facts: drafts.map((d) => ({ ...d })),
    edits,
    retention,
  };
}

/** A training sentence: one true fact in one template. */
export interface FactSentence {
  readonly prompt: string;
  readonly answer: string;
  readonly subject: string;
  readonly relation: string;
}

/**
 * Every true fact of the world in every template of its relation: what the world model is trained on,
 * so it knows the edit prompts, their paraphrases, the locality prompts and the retention facts.
 */
export function worldSentences(world: World): FactSentence[] {
  const byId = new Map(world.relations.map((r) => [r.id, r]));
  const out: FactSentence[] = [];
  for (const f of world.facts) {
    for (const t of byId.get(f.relation)!.templates) {
      out.push({ prompt: fillTemplate(t, f.subject), answer: f.answer, subject: f.subject, relation: f.relation });
    }
  }
  return out;
}
