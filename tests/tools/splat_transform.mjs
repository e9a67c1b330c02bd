// Convert splat files with @playcanvas/splat-transform's library, a batch in one process.
// Usage: node splat_transform.mjs JOBS.json   (SPLAT_TRANSFORM: the package's folder)
// JOBS.json: [{"input": PATH, "output": PATH, "options": {...}}, ...]; each output is
// written with every file the writer made (a SOG folder, a streamed SOG's chunks).
// Prints a JSON list: the seconds each job took (read, convert, write to memory).
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

// The package is ESM only, and ESM ignores NODE_PATH: import it by its path.
const st = await import(pathToFileURL(path.join(process.env.SPLAT_TRANSFORM, "dist", "index.mjs")));

// Files are read from disk as the readers ask for them (a SOG's images, a streamed SOG's
// chunks), by their path.
const diskFileSystem = {
  async createSource(filename) {
    const memory = new st.MemoryReadFileSystem();
    memory.set(filename, new Uint8Array(fs.readFileSync(filename)));
    return memory.createSource(filename);
  },
};

async function convert(job) {
  const start = performance.now();
  const options = job.options || {};
  const sources = await st.readFile({
    filename: path.resolve(job.input),
    inputFormat: st.getInputFormat(job.input),
    options,
    fileSystem: diskFileSystem,
  });
  const output = path.resolve(job.output);
  const written = new st.MemoryFileSystem();
  await st.writeSource({
    filename: output,
    outputFormat: st.getOutputFormat(output, options),
    source: sources[0],
    pool: st.createChunkDataPool(),
    options,
  }, written);
  for (const source of sources) source.close();
  const seconds = (performance.now() - start) / 1000;
  for (const [name, data] of written.results) {
    const target = path.resolve(path.dirname(output), name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, data);
  }
  return seconds;
}

async function main() {
  st.logger.setVerbosity("quiet");
  st.WorkerQueue.maxWorkers = 0;  // inline: no worker threads each loading the bundle
  const seconds = [];
  for (const job of JSON.parse(fs.readFileSync(process.argv[2], "utf8"))) {
    seconds.push(await convert(job));
  }
  process.stdout.write(JSON.stringify(seconds) + "\n");
}

await main().catch((err) => {
  process.stderr.write(String((err && err.stack) || err) + "\n");
  process.exit(1);
});
