// `lifeline inspect --work_dir=DIR [--strict=false] [--json]`: prints the checkpointed state
// without starting an agent. The checkpoint reader arrives with agent recovery (issue 3); until
// then this command says so plainly instead of printing an empty state that would look real.
import { LifelineError } from '../protocol/errors.js';
import { helpText, parseFlags } from './flags.js';

const FLAGS = {
  work_dir: { type: 'string', required: true, help: 'the agent work directory to read' },
  strict: { type: 'boolean', default: 'true', help: 'fail on any damaged record instead of listing it' },
  json: { type: 'boolean', default: 'false', help: 'print JSON instead of text' },
} as const;

export async function main(argv: string[]): Promise<number> {
  const { help } = parseFlags('inspect', FLAGS, argv);
  if (help) {
    process.stdout.write(helpText('inspect', '--work_dir=DIR [--strict=false] [--json]', FLAGS));
    return 0;
  }
  throw new LifelineError('ERR_RECOVERY', 'inspect needs the checkpoint reader, which is not built yet (issue 3: agent recovery)');
}
