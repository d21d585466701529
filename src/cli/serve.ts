import { serve } from '../server.js';
import { parse, type Command } from './command.js';

const USAGE = `Usage: switchboard serve

Runs the gateway until SIGTERM or SIGINT, configured by the environment (see the README, Configuration);
the same as 'npm start'.`;

export const serveCommand: Command = async (argv) => {
  if (parse(argv, {}, USAGE) === null) return 0;
  await serve();
  // serve() resolves once listening; the process lives on until a signal (server.ts exits it).
  return 0;
};
