// A worker thread that runs a module of ours from its file: the .ts under tsx (which the thread must
// register first), the built .js otherwise. The metadata commit thread and the hashing service run so.
import { Worker } from 'node:worker_threads';

/**
 * Starts the thread of module `name` (no extension), in the directory of `callerUrl` (the caller's
 * import.meta.url); resolves once it is online, or, when `readyOnMessage`, once it posts its first message
 * (a server's "listening"). `what` names it in the error of a thread that exits as it starts.
 */
export async function startModuleThread(callerUrl: string, name: string, workerData: unknown, readyOnMessage: boolean, what: string): Promise<Worker> {
  const fromSource = callerUrl.endsWith('.ts');
  const moduleUrl = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, callerUrl);
  const worker = fromSource
    ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(moduleUrl.href)}); })`, { eval: true, workerData })
    : new Worker(moduleUrl, { workerData });
  await new Promise<void>((resolve, reject) => {
    const ready = (): void => {
      worker.off('error', failed);
      worker.off('exit', exited);
      resolve();
    };
    const failed = (err: Error): void => reject(err);
    const exited = (code: number): void => reject(new Error(`The ${what} thread exited (code ${code}) as it started`));
    if (readyOnMessage) worker.once('message', ready);
    else worker.once('online', ready);
    worker.once('error', failed);
    worker.once('exit', exited);
  });
  return worker;
}
