/* eslint-disable no-console -- the `npm run simulator` entry: printing what to set on the gateway is its job. */
import { ControlToken } from './control-token.js';
import { ProviderSimulator, SANDBOX_TELNYX } from './simulator.js';

// `npm run simulator`: the provider simulator on a fixed port, with the sandbox credentials, for a gateway run by
// hand or by a test in another process (which drives it through the /_sim control API).

const port = Number(process.env.SIMULATOR_PORT ?? 4010);
const host = process.env.SIMULATOR_HOST ?? '127.0.0.1';
const webhookUrl = process.env.SIMULATOR_WEBHOOK_URL ?? 'http://127.0.0.1:3000/webhooks';
// Off for raw-throughput measurements (bench:send): two callbacks per message cost the simulator more than the send.
const callbacks = process.env.SIMULATOR_CALLBACKS ?? 'true';
if (callbacks !== 'true' && callbacks !== 'false') {
  console.error(`SIMULATOR_CALLBACKS must be "true" or "false", not '${callbacks}'`);
  process.exit(1);
}

if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`SIMULATOR_PORT must be a port number, not '${process.env.SIMULATOR_PORT}'`);
  process.exit(1);
}
// Normally made at random for each start and printed below; a harness that starts this process and does not read
// its output (bench:send) chooses one instead.
const controlToken = process.env.SIMULATOR_CONTROL_TOKEN || undefined;
try {
  if (controlToken !== undefined) new ControlToken(controlToken);
} catch (err) {
  console.error(`SIMULATOR_CONTROL_TOKEN: ${(err as Error).message} (e.g. openssl rand -base64 32)`);
  process.exit(1);
}

const sim = await ProviderSimulator.start({
  host,
  port,
  defaultWebhookUrl: webhookUrl,
  callbacks: { enabled: callbacks === 'true' },
  ...(controlToken === undefined ? {} : { controlToken }),
});

console.log(`Provider simulator listening on ${sim.url}
Telnyx events without webhook_url, and /_sim/inbound, go to ${webhookUrl}

Set on the gateway:
  PUBLIC_BASE_URL=${webhookUrl.replace(/\/webhooks(?:\/[a-z]+)?$/, '')}
  TWILIO_ACCOUNT_SID=${sim.twilioCredentials.accountSid}
  TWILIO_API_BASE_URL=${sim.twilioApiBaseUrl}
  TELNYX_API_BASE_URL=${sim.telnyxApiBaseUrl}
  TELNYX_PUBLIC_KEY=${sim.telnyxPublicKey}
  TELNYX_MESSAGING_PROFILE_ID=${sim.telnyxMessagingProfileId ?? SANDBOX_TELNYX.messagingProfileId}
  TWILIO_AUTH_TOKEN and TELNYX_API_KEY: the SANDBOX_TWILIO.authToken and SANDBOX_TELNYX.apiKey
  exported from src/simulator/simulator.ts (not printed: logs are not the place for credentials).

Control API (JSON only; send the token as Authorization: Bearer <token>):
  SIMULATOR_CONTROL_TOKEN=${sim.controlToken}
  GET ${sim.url}/_sim/messages, GET /_sim/stats, POST /_sim/faults/{twilio|telnyx}, POST /_sim/reset,
  POST /_sim/inbound. Ctrl-C stops.`);

let stopping = false;
function stop(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: closing the simulator`);
  sim.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error('closing failed:', err);
      process.exit(1);
    },
  );
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
