// `lifeline version [--json]` (also `lifeline --version`): this build's release, the protocol
// versions it speaks and serves, and the on-disk formats it writes and reads (issue 11), the same
// document as GET /version on a master or an agent.
import { versionDocument } from '../checkpoint/format.js';
import { helpText, parseFlags } from './flags.js';

const FLAGS = {
  json: { type: 'boolean', default: 'false', help: 'print the /version JSON document instead of one line' },
} as const;

export async function main(argv: string[]): Promise<number> {
  const { flags, help } = parseFlags('version', FLAGS, argv);
  if (help) {
    process.stdout.write(helpText('version', '[--json]', FLAGS));
    return 0;
  }
  const doc = versionDocument();
  process.stdout.write(
    flags.json
      ? `${JSON.stringify(doc)}\n`
      : `lifeline ${doc.version} (protocol ${doc.protocol.current}, serves ${doc.protocol.oldest}..${doc.protocol.current}; checkpoint format ${doc.formats.checkpoint}, sandbox format ${doc.formats.sandbox})\n`,
  );
  return 0;
}
