// Validate glTF/GLB files with the Khronos glTF validator; print one JSON report per file.
// Usage: node gltf_validate.cjs FILE...   (NODE_PATH must reach gltf-validator)
const fs = require("fs");
const path = require("path");
const validator = require("gltf-validator");

async function main() {
  const reports = [];
  for (const file of process.argv.slice(2)) {
    const bytes = new Uint8Array(fs.readFileSync(file));
    const report = await validator.validateBytes(bytes, {
      uri: path.basename(file),
      maxIssues: 0,
      externalResourceFunction: (uri) =>
        new Promise((resolve, reject) => {
          fs.readFile(path.join(path.dirname(file), decodeURIComponent(uri)), (err, data) =>
            err ? reject(err.toString()) : resolve(new Uint8Array(data)));
        }),
    });
    reports.push({ file, issues: report.issues });
  }
  process.stdout.write(JSON.stringify(reports));
}

main().catch((err) => { process.stderr.write(String(err) + "\n"); process.exit(1); });
