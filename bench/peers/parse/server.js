// Parse Server for bench/load --peer parse: PARSE_PROCESSES Node processes (node:cluster, one
// port) serving REST under /parse and LiveQuery for the Message class on the same port.
// With more than one process, LiveQuery goes through Redis (PARSE_REDIS_URL): a Message created
// in one process reaches the sockets held by the others, as Parse's docs prescribe for scaling.
// Everything comes from the environment, set by bench/peers/parse/target.py.
const cluster = require('node:cluster');
const { ParseServer } = require('parse-server');

const env = process.env;
const processes = Number(env.PARSE_PROCESSES || '1');
const port = Number(env.PARSE_PORT);
const serverURL = `http://127.0.0.1:${port}/parse`;

if (cluster.isPrimary && processes > 1) {
  // The first worker creates Parse's own tables on a fresh database; the others start once it
  // listens (started together, they race on CREATE TABLE and fail).
  let listening = 0;
  cluster.on('listening', () => {
    listening += 1;
    if (listening === 1) for (let i = 1; i < processes; i += 1) cluster.fork();
    if (listening === processes) console.log(`parse ready: ${processes} processes`);
  });
  cluster.fork();
  // A worker that dies ends the run: the benchmark must not measure a half-sized peer.
  cluster.on('exit', (worker, code) => {
    console.error(`parse worker ${worker.process.pid} exited (${code})`);
    process.exit(1);
  });
} else {
  const redis = processes > 1 ? { redisURL: env.PARSE_REDIS_URL } : {};
  ParseServer.startApp({
    appId: env.PARSE_APP_ID,
    masterKey: env.PARSE_MASTER_KEY,
    masterKeyIps: ['127.0.0.1', '::1'],
    databaseURI: env.PARSE_DATABASE_URI,
    serverURL,
    port,
    host: '127.0.0.1',
    mountPath: '/parse',
    // Classes come from the setup (master key), never from a client's first write.
    allowClientClassCreation: false,
    // In-process REST ("direct access", the default) fails in 9.10.0 as npm resolves its tree:
    // the router's Layer has no `params` (TypeError in PromiseRouter.match), so LiveQuery could
    // not resolve a session token. Off, the SDK inside the server goes over HTTP to serverURL.
    directAccess: false,
    logLevel: 'error',
    verbose: false,
    startLiveQueryServer: true,
    liveQuery: { classNames: ['Message'], ...redis },
    liveQueryServerOptions: { logLevel: 'ERROR', ...redis },
  }).then(() => {
    if (processes === 1) console.log('parse ready: 1 process');
  }).catch((error) => {
    console.error('parse server failed to start', error);
    process.exit(1);
  });
}
