#!/usr/bin/env node
import { Command } from 'commander';
import { InputError } from '../errors.js';
import { addBuildCommand } from './build-command.js';
import { addFitCommand } from './fit-command.js';
import { addModelCommands } from './model-commands.js';
import { addQueueCommands } from './queue-commands.js';
import { addRenderCommand } from './render-command.js';
import { addServeCommand } from './serve-command.js';
import { addTrainCommands } from './train-command.js';

const program = new Command()
  .name('morphable')
  .description('3D morphable face models: import and inspect models, sample faces, fit a face to a photo.')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .configureOutput({ outputError: (text, write) => write(`${text.trimEnd()}\n`) })
  .exitOverride((err) =>
    process.exit(err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2),
  );

addModelCommands(program);
addBuildCommand(program.commands.find((c) => c.name() === 'model')!);
addFitCommand(program);
addRenderCommand(program);
addTrainCommands(program);
addServeCommand(program);
addQueueCommands(program);

try {
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
