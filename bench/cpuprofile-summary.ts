/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`): where the time went, by function (self and inclusive) and
 * by package. Used to explain a missed goal of bench/ingest.ts, e.g.
 *
 *   BENCH_SCENARIOS=twilio BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench:ingest
 *   node --import tsx bench/cpuprofile-summary.ts /tmp/prof/*.cpuprofile [rows=25]
 *
 * Times come from the sample deltas (not hit counts times a nominal interval), so they add up to the wall time.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function isCpuProfile(value: unknown): value is CpuProfile {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return Array.isArray(v.nodes) && Array.isArray(v.samples) && Array.isArray(v.timeDeltas);
}

/** A function's identity across the profile tree: the same function appears under many call paths. */
function frameKey(frame: CallFrame): string {
  return `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

function shortUrl(url: string): string {
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) return url.slice(modules + '/node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist !== -1) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

/** Which package (or part of the runtime) a frame belongs to. */
function category(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native/V8 builtins)';
  if (url.startsWith('node:')) return 'node: core';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? url);
  }
  const dist = url.indexOf('/dist/');
  if (dist !== -1)
    return `switchboard ${
      url
        .slice(dist + '/dist/'.length)
        .split('/')
        .slice(0, -1)
        .join('/') || '.'
    }`;
  return url;
}

function summarize(path: string, rows: number): void {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!isCpuProfile(parsed)) throw new Error(`${path} is not a V8 .cpuprofile`);
  const byId = new Map(parsed.nodes.map((n) => [n.id, n]));

  // Self time per node, in microseconds: each sample's delta is charged to the node it landed on.
  const selfUs = new Map<number, number>();
  parsed.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (parsed.timeDeltas[i] ?? 0)));
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);

  const selfByFunction = new Map<string, number>();
  const selfByCategory = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const key = frameKey(node.callFrame);
    selfByFunction.set(key, (selfByFunction.get(key) ?? 0) + us);
    const cat = category(node.callFrame);
    selfByCategory.set(cat, (selfByCategory.get(cat) ?? 0) + us);
  }

  // Inclusive time per function: a depth-first walk charging each subtree once to every distinct function on
  // the path (so recursion is not counted twice). Iterative, as real profiles are deep.
  const inclusive = new Map<string, number>();
  const subtreeUs = new Map<number, number>();
  const root = parsed.nodes[0];
  if (root) {
    const order: ProfileNode[] = [];
    const stack: ProfileNode[] = [root];
    while (stack.length > 0) {
      const node = stack.pop() as ProfileNode;
      order.push(node);
      for (const child of node.children ?? []) {
        const c = byId.get(child);
        if (c) stack.push(c);
      }
    }
    // Children come after their parent in `order`, so walking it backwards sums subtrees bottom-up.
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i] as ProfileNode;
      let sum = selfUs.get(node.id) ?? 0;
      for (const child of node.children ?? []) sum += subtreeUs.get(child) ?? 0;
      subtreeUs.set(node.id, sum);
    }
    const walk: { node: ProfileNode; onPath: Set<string> }[] = [{ node: root, onPath: new Set() }];
    while (walk.length > 0) {
      const { node, onPath } = walk.pop() as { node: ProfileNode; onPath: Set<string> };
      const key = frameKey(node.callFrame);
      let path = onPath;
      if (!onPath.has(key)) {
        inclusive.set(key, (inclusive.get(key) ?? 0) + (subtreeUs.get(node.id) ?? 0));
        path = new Set(onPath).add(key);
      }
      for (const child of node.children ?? []) {
        const c = byId.get(child);
        if (c) walk.push({ node: c, onPath: path });
      }
    }
  }

  const pct = (us: number) => `${((us / totalUs) * 100).toFixed(1).padStart(5)}%`;
  const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
  const top = (map: Map<string, number>, n: number, filter: (key: string) => boolean = () => true) =>
    [...map.entries()]
      .filter(([key]) => filter(key))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n);

  console.log(`${path}: ${(totalUs / 1e6).toFixed(1)} s sampled`);
  console.log('\nSelf time by package / runtime part:');
  for (const [key, us] of top(selfByCategory, rows)) console.log(`  ${pct(us)} ${ms(us)}  ${key}`);
  console.log('\nTop functions by self time:');
  for (const [key, us] of top(selfByFunction, rows)) console.log(`  ${pct(us)} ${ms(us)}  ${key}`);
  console.log('\nTop functions by inclusive time (excluding the idle/program/GC pseudo-frames):');
  const pseudo = ['(root) ', '(program) ', '(idle) ', '(garbage collector) '];
  for (const [key, us] of top(inclusive, rows, (k) => !pseudo.some((p) => k.startsWith(p)))) {
    console.log(`  ${pct(us)} ${ms(us)}  ${key}`);
  }
}

const [file, rowsArg] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node --import tsx bench/cpuprofile-summary.ts <file.cpuprofile> [rows]');
  process.exit(2);
}
summarize(file, Number(rowsArg ?? '25') || 25);
