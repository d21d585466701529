import { parse, positiveInteger, type Command } from './command.js';

const USAGE = `Usage: switchboard simulate [--port 4010] [--host 127.0.0.1] [--webhook-url URL] [--no-callbacks]

Runs the provider simulator: Twilio's and Telnyx's send APIs on loopback, with delivery receipts and inbound
messages posted, signed, to the gateway (--webhook-url, default http://127.0.0.1:3000/webhooks). It prints
what to set on the gateway and the token of its control API (/_sim/*), made for this start. Ctrl-C stops it.`;

export const simulate: Command = async (argv) => {
  const args = parse(
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      'webhook-url': { type: 'string' },
      'no-callbacks': { type: 'boolean' },
    },
    USAGE,
  );
  if (args === null) return 0;
  const { values } = args;
  // The simulator's own entry reads its settings from the environment (as `npm run simulator` does).
  if (values.port !== undefined)
    process.env.SIMULATOR_PORT = String(positiveInteger(values.port, 'port', 4010));
  if (values.host !== undefined) process.env.SIMULATOR_HOST = values.host;
  if (values['webhook-url'] !== undefined) process.env.SIMULATOR_WEBHOOK_URL = values['webhook-url'];
  if (values['no-callbacks']) process.env.SIMULATOR_CALLBACKS = 'false';
  await import('../simulator/main.js');
  return 0;
};
