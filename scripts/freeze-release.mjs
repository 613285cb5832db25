// Freezes a released build of lifeline as test fixtures (issue 11): the upgrade tests start the
// real old master, agent, shim and ExecutorDriver from these files, never from the network.
// Usage: node scripts/freeze-release.mjs <version> <commit>   e.g. 0.1.0 af98b8b
// It checks the commit out into a temp dir (git worktree), links this repo's node_modules, builds
// it with tsc, and bundles with rollup into test/fixtures/releases/<version>/:
//   cli/main.js (+ cli/*-<hash>.js chunks)  the `lifeline` CLI (master, agent, run, shim, ...)
//   executor.js                              the ExecutorDriver, one importable ESM file
// Lifeline's own code is bundled; the CommonJS dependencies (ws, pino, prom-client), which rollup
// cannot inline without a CommonJS plugin, stay imports resolved from the repo's node_modules.
import { execFileSync } from 'node:child_process';
import { rollup } from '@rollup/wasm-node';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [version, commit] = process.argv.slice(2);
if (!version || !commit || !/^\d+\.\d+\.\d+$/.test(version)) {
  process.stderr.write('usage: node scripts/freeze-release.mjs <version> <commit>   (e.g. 0.1.0 af98b8b)\n');
  process.exit(2);
}

const EXTERNAL_PACKAGES = ['ws', 'pino', 'pino-pretty', 'prom-client', 'etcd3'];
const builtins = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);
const isExternal = (id) => builtins.has(id) || EXTERNAL_PACKAGES.some((name) => id === name || id.startsWith(`${name}/`));

const git = (...args) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8' }).trim();
const fullCommit = git('rev-parse', '--verify', `${commit}^{commit}`);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `lifeline-freeze-${version}-`));
const tree = path.join(tmp, 'src-tree');
const out = path.join(root, 'test', 'fixtures', 'releases', version);

try {
  git('worktree', 'add', '--detach', tree, fullCommit);
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(tree, 'node_modules'), 'dir');
  const releasedVersion = JSON.parse(fs.readFileSync(path.join(tree, 'package.json'), 'utf8')).version;
  if (releasedVersion !== version) throw new Error(`commit ${commit} is version ${releasedVersion}, not ${version}`);
  // Only src/: the release's tests and scripts are not part of what it ships.
  const tsconfig = path.join(tree, 'tsconfig.freeze.json');
  fs.writeFileSync(tsconfig, JSON.stringify({ extends: './tsconfig.json', include: ['src/**/*.ts'], compilerOptions: { sourceMap: false, declaration: false } }));
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tsconfig], { cwd: tree, stdio: 'inherit' });

  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  const banner = `// lifeline ${version}, frozen from commit ${fullCommit} by scripts/freeze-release.mjs: do not edit.`;
  const plugins = [nodeResolve({ exportConditions: ['node', 'import'], preferBuiltins: true })];
  const onwarn = (warning, warn) => {
    if (warning.code === 'THIS_IS_UNDEFINED' || warning.code === 'CIRCULAR_DEPENDENCY') return;
    warn(warning);
  };
  // The CLI keeps its lazy subcommands as chunks beside main.js, in cli/, where the release's
  // agent looks for `../cli/main.js` to start `lifeline shim`.
  const cli = await rollup({ input: { main: path.join(tree, 'dist', 'src', 'cli', 'main.js') }, external: isExternal, plugins, onwarn });
  await cli.write({ dir: path.join(out, 'cli'), format: 'es', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js', banner, sourcemap: false });
  await cli.close();
  const driver = await rollup({ input: path.join(tree, 'dist', 'src', 'executor', 'index.js'), external: isExternal, plugins, onwarn });
  await driver.write({ file: path.join(out, 'executor.js'), format: 'es', inlineDynamicImports: true, banner, sourcemap: false });
  await driver.close();
  fs.writeFileSync(path.join(out, 'package.json'), `${JSON.stringify({ name: 'lifeline-release-fixture', version, type: 'module', private: true, commit: fullCommit }, null, 2)}\n`);
  fs.writeFileSync(path.join(out, 'README.md'), readme(version, fullCommit));
  const files = fs.readdirSync(out, { recursive: true }).filter((name) => fs.statSync(path.join(out, name)).isFile());
  process.stdout.write(`froze lifeline ${version} (${fullCommit}) into ${path.relative(root, out)}: ${files.length} files\n`);
} finally {
  try {
    git('worktree', 'remove', '--force', tree);
  } catch {
    // Already gone: nothing to unregister.
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

function readme(v, sha) {
  return `# lifeline ${v}, frozen for the upgrade tests

Built from commit \`${sha}\` of this repository by:

    node scripts/freeze-release.mjs ${v} ${sha.slice(0, 7)}

- \`cli/main.js\`: the release's \`lifeline\` executable (\`node cli/main.js master|agent|run|shim|inspect ...\`);
  the other files in \`cli/\` are its lazily loaded chunks. Its agent starts \`lifeline shim\` as
  \`node <this dir>/cli/main.js shim\`, so command tasks run the release's shim.
- \`executor.js\`: the release's ExecutorDriver (\`import { ExecutorDriver } from '.../executor.js'\`).

Lifeline's code and its ESM dependencies are bundled in; the CommonJS ones (${EXTERNAL_PACKAGES.join(', ')})
are imported from the repository's node_modules. Tests start these files; nothing is fetched from
the network. Do not edit them: rebuild with the command above.
`;
}
