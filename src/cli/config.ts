import { loadConfig, type Config } from '../config.js';
import { ConfigError } from '../core/errors.js';
import { CliError } from './command.js';

/** The gateway's configuration from the environment, as `serve` reads it; a bad one is the operator's error. */
export function gatewayConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new CliError(`${err.message}\n(switchboard doctor checks everything and says what to fix.)`);
    }
    throw err;
  }
}
