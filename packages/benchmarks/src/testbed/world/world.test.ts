import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseCounterFact } from '../../datasets';
import { generateWorld, readWorldDir, RELATIONS, worldSentences, writeWorld, type World } from './index';

const relById = new Map(RELATIONS.map((r) => [r.id, r]));

describe('world generator', () => {
  let world: World;
  beforeAll(() => {
    world = generateWorld({ seed: 7, persons: 120 });
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const again = generateWorld({ seed: 7, persons: 120 });
    expect(JSON.stringify(again)).toBe(JSON.stringify(world));
    const other = generateWorld({ seed: 8, persons: 120 });
    expect(other.entities.person).not.toEqual(world.entities.person);
  });

  it('generates hundreds of distinct, pronounceable, single-word names', () => {
    const big = generateWorld({ seed: 1, persons: 300 });
    const names = [...big.entities.person, ...big.entities.city, ...big.entities.country, ...big.entities.language, ...big.entities.company];
    expect(names.length).toBeGreaterThan(350);
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(names.length);
    for (const n of names) {
      expect(n).toMatch(/^[A-Z][a-z]{3,11}$/);
      // pronounceable: no run of four consonants
      expect(n.toLowerCase()).not.toMatch(/[^aeiou]{4}/);
    }
  });

  it('types every fact by its relation', () => {
    for (const f of world.facts) {
      const r = relById.get(f.relation)!;
      expect(world.entities[r.subjectType]).toContain(f.subject);
      expect(world.entities[r.objectType]).toContain(f.answer);
    }
  });

  it('writes counterfactual requests of the right type, readable by the CounterFact loader', () => {
    expect(world.edits.length).toBeGreaterThan(60);
    const { requests } = parseCounterFact(world.edits, { label: 'edits.json' });
    const factOf = new Map(world.facts.map((f) => [`${f.subject}|${f.relation}`, f]));
    for (const [i, req] of requests.entries()) {
      const rec = world.edits[i];
      const r = relById.get(rec.relation_id)!;
      expect(r.editable).toBe(true);
      const fact = factOf.get(`${rec.subject}|${rec.relation_id}`)!;
      expect(fact.role).toBe('edit');
      expect(req.oldTarget).toBe(fact.answer);
      expect(req.target).not.toBe(fact.answer);
      expect(world.entities[r.objectType]).toContain(req.target);
      // The prompt and every paraphrase are the relation's templates filled with the subject.
      const filled = r.templates.map((t) => t.split('{}').join(rec.subject));
      expect(filled).toContain(req.prompt);
      expect(req.paraphrases.length).toBe(r.templates.length - 1);
      for (const p of req.paraphrases) expect(filled).toContain(p);
      expect(new Set([req.prompt, ...req.paraphrases]).size).toBe(r.templates.length);
    }
  });

  it('draws neighbourhood prompts from other subjects sharing relation and answer, never edited', () => {
    const byPair = new Map<string, string[]>();
    for (const f of world.facts) {
      if (f.role !== 'fixed') continue;
      const k = `${f.relation}|${f.answer}`;
      byPair.set(k, [...(byPair.get(k) ?? []), f.subject]);
    }
    for (const rec of world.edits) {
      expect(rec.neighborhood_prompts.length).toBeGreaterThanOrEqual(1);
      const templates = relById.get(rec.relation_id)!.templates;
      for (const n of rec.neighborhood_prompts) {
        expect(n.ground_truth).toBe(rec.ground_truth);
        const holders = byPair.get(`${rec.relation_id}|${rec.ground_truth}`)!;
        const subject = holders.find((s) => templates.some((t) => t.split('{}').join(s) === n.prompt));
        expect(subject).toBeDefined();
        expect(subject).not.toBe(rec.subject);
      }
      expect(rec.locality_prompt).toBe(rec.neighborhood_prompts[0].prompt);
    }
  });

  it('draws unrelated prompts from fixed facts of other relations and subjects', () => {
    const fixed = new Map<string, string>();
    for (const f of world.facts) {
      if (f.role !== 'fixed') continue;
      for (const t of relById.get(f.relation)!.templates) fixed.set(t.split('{}').join(f.subject), `${f.relation}|${f.subject}|${f.answer}`);
    }
    for (const rec of world.edits) {
      expect(rec.unrelated_prompts.length).toBe(2);
      for (const u of rec.unrelated_prompts) {
        const [relation, subject, answer] = fixed.get(u.prompt)!.split('|');
        expect(relation).not.toBe(rec.relation_id);
        expect(subject).not.toBe(rec.subject);
        expect(answer).toBe(u.ground_truth);
      }
    }
  });

  it('holds out retention facts that no request or locality prompt touches', () => {
    expect(world.retention.length).toBeGreaterThan(20);
    const touched = new Set<string>();
    for (const rec of world.edits) {
      touched.add(rec.subject);
      for (const p of [...rec.neighborhood_prompts, ...rec.unrelated_prompts]) for (const w of p.prompt.split(' ')) touched.add(w);
    }
    for (const f of world.retention) {
      expect(touched.has(f.subject)).toBe(false);
      expect(f.prompt).toContain(f.subject);
      expect(world.facts.find((x) => x.subject === f.subject && x.relation === f.relation)!.answer).toBe(f.answer);
    }
  });

  it('teaches every fact in every template', () => {
    const sentences = worldSentences(world);
    const expected = world.facts.reduce((s, f) => s + relById.get(f.relation)!.templates.length, 0);
    expect(sentences).toHaveLength(expected);
    const known = new Map(sentences.map((s) => [s.prompt, s.answer]));
    for (const rec of world.edits) {
      expect(known.get(rec.prompt)).toBe(rec.ground_truth);
      for (const p of rec.paraphrase_prompts) expect(known.get(p)).toBe(rec.ground_truth);
      for (const n of [...rec.neighborhood_prompts, ...rec.unrelated_prompts]) expect(known.get(n.prompt)).toBe(n.ground_truth);
    }
  });

  it('refuses bad options by name', () => {
    expect(() => generateWorld({ seed: 1, persons: 5 })).toThrow(/option persons must be an integer in 20\.\.5000, got 5/);
    expect(() => generateWorld({ seed: 1.5 })).toThrow(/option seed must be an integer/);
    expect(() => generateWorld({ seed: 1, relationsPerPerson: 9 })).toThrow(/option relationsPerPerson/);
  });

  it('writes a directory the ordinary loaders read back', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiedit-world-'));
    try {
      await writeWorld(world, path.join(dir, 'w'));
      const back = readWorldDir(path.join(dir, 'w'));
      expect(back.requests).toHaveLength(world.edits.length);
      expect(back.requests[0].locality.length).toBe(1 + (world.edits[0].neighborhood_prompts.length - 1) + 2);
      expect(back.retention).toHaveLength(world.retention.length);
      expect(fs.readdirSync(dir)).toEqual(['w']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
