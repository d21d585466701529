import SwaggerParser from '@apidevtools/swagger-parser';
import { afterEach, describe, expect, it } from 'vitest';
import { newSecret } from '../helpers/app-server.js';
import { json, startGateway, type TestGateway } from '../helpers/gateway.js';

let gw: TestGateway;
afterEach(async () => gw?.close());

describe('API documentation', () => {
  it('serves a valid OpenAPI 3 document generated from the routes, without an API key', async () => {
    gw = await startGateway({ APP_WEBHOOK_URL: 'https://app.example/hook', APP_WEBHOOK_SECRET: newSecret() });
    const res = await fetch(`${gw.base}/openapi.json`);
    expect(res.status).toBe(200);
    const spec = await json(res);
    // Checked by an independent validator against the OpenAPI 3.0 schema.
    await expect(SwaggerParser.validate(structuredClone(spec))).resolves.toBeTruthy();
    expect(spec.openapi).toBe('3.0.3');
    const operations = Object.entries(spec.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(
      [
        'GET /healthz',
        'GET /metrics',
        'GET /readyz',
        'POST /webhooks',
        'POST /webhooks/{provider}',
        'GET /v1/messages',
        'POST /v1/messages',
        'POST /v1/messages/batch',
        'GET /v1/messages/{id}',
        'GET /v1/events',
        'GET /v1/events/{id}',
        'POST /v1/events/{id}/redeliver',
        'GET /v1/endpoints',
        'POST /v1/endpoints/{id}/enable',
        'POST /v1/endpoints/{id}/disable',
        'POST /v1/endpoints/{id}/replay',
      ].sort(),
    );
    // Every /v1 operation says it needs the bearer key; the error shape is documented.
    type Operation = {
      tags: string[];
      security?: unknown;
      description?: string;
      responses: Record<string, unknown>;
    };
    for (const [path, methods] of Object.entries(spec.paths as Record<string, Record<string, Operation>>)) {
      for (const operation of Object.values(methods)) {
        expect(operation.tags, path).toHaveLength(1);
        if (path.startsWith('/v1')) {
          expect(operation.security, path).toEqual([{ bearerAuth: [] }]);
          expect(operation.responses['4XX'] ?? operation.responses['4xx'], path).toBeDefined();
          expect(operation.description, path).toMatch(/Needs an API key with the `(send|read|admin)` scope/);
          expect(operation.description?.split('Needs an API key').length, path).toBe(2);
        }
      }
    }
    expect(spec.paths['/v1/messages'].get.description).toContain('`read` scope');
    expect(spec.paths['/v1/endpoints/{id}/replay'].post.description).toContain('`admin` scope');
    const send = spec.paths['/v1/messages'].post;
    expect(send.description).toContain('`send` scope');
    expect(Object.keys(send.requestBody.content['application/json'].schema.properties)).toEqual(
      expect.arrayContaining(['to', 'body', 'mediaUrls', 'from', 'provider', 'statusCallback']),
    );
  });

  it('serves a browsable page at /docs', async () => {
    gw = await startGateway();
    const page = await fetch(`${gw.base}/docs`, { redirect: 'follow' });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('swagger-ui');
    // Its script and styles load (served by the gateway itself, no CDN).
    const assets = [...html.matchAll(/(?:src|href)="(\/docs\/static\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThan(2);
    for (const asset of assets) expect((await fetch(`${gw.base}${asset}`)).status, asset).toBe(200);
    // The page's initializer points at the document.
    const init = await (await fetch(`${gw.base}/docs/static/swagger-initializer.js`)).text();
    expect(init).toMatch(/json/);
  });
});
