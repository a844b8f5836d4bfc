#!/usr/bin/env node
import { Command } from 'commander';
import { InputError } from '../errors.js';

const program = new Command()
  .name('morphable')
  .description('3D morphable face models: import and inspect models, sample faces, fit a face to a photo.')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .configureOutput({ outputError: (text, write) => write(`${text.trimEnd()}\n`) })
  .exitOverride((err) =>
    process.exit(err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2),
  );

/**
 * The commands, each module loaded only when its command is asked for: `morphable fit` need not load the
 * training stack, the HTTP server or the Redis client (each CLI start is about a second shorter). Top-level
 * help, `help` and an unknown command load them all, in this order.
 */
const COMMANDS: { names: string[]; add: () => Promise<void> }[] = [
  {
    names: ['model'],
    add: async () => {
      const [{ addModelCommands }, { addBuildCommand }, { addLearnColorCommand }] = await Promise.all([
        import('./model-commands.js'),
        import('./build-command.js'),
        import('./learn-color-command.js'),
      ]);
      addModelCommands(program);
      const model = program.commands.find((c) => c.name() === 'model')!;
      addBuildCommand(model);
      addLearnColorCommand(model);
    },
  },
  { names: ['fit'], add: async () => (await import('./fit-command.js')).addFitCommand(program) },
  { names: ['render'], add: async () => (await import('./render-command.js')).addRenderCommand(program) },
  { names: ['train'], add: async () => (await import('./train-command.js')).addTrainCommands(program) },
  { names: ['serve'], add: async () => (await import('./serve-command.js')).addServeCommand(program) },
  { names: ['queue', 'worker'], add: async () => (await import('./queue-commands.js')).addQueueCommands(program) },
];

try {
  const asked = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
  const wanted = COMMANDS.filter((command) => asked !== undefined && command.names.includes(asked));
  for (const command of wanted.length ? wanted : COMMANDS) await command.add();
  await program.parseAsync(process.argv);
} catch (error) {
  // Input problems are the user's to fix: one line, exit 2. Anything else is our bug: exit 1.
  if (error instanceof InputError) {
    process.stderr.write(`morphable: ${error.message}\n`);
    process.exit(2);
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`morphable: internal error: ${message}\n`);
  if (process.env.MORPHABLE_DEBUG) console.error(error);
  process.exit(1);
}
