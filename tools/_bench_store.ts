/**
 * Synthetic runs for the tracking and UI benchmarks: finished runs with 20 metrics and 20 params each, some with
 * dataset inputs, written straight in the store's file formats (building thousands of runs through the API is not
 * what they measure).
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  datasetId,
  type DatasetInput,
  type FileStore,
  formatMetricLine,
  formatRunMeta,
} from "../src/tracking/mod.ts";

/** Dataset pairs (training, validation) the runs with inputs draw from, as a store of many trainings holds few. */
const DATASET_PAIRS = 4;

const md5 = (text: string) => createHash("md5").update(text, "utf8").digest("hex");

const SCHEMA = JSON.stringify({ mlflow_colspec: [{ type: "string", name: "text", required: true }] });
const PROFILE = JSON.stringify({ num_documents: 5000, num_tokens: 1200000 });

/**
 * A storyteller-shaped dataset input (a local text file, a text schema, a document/token profile), for logging
 * through the API; `context` becomes its `mlflow.data.context` tag.
 */
export function datasetInput(name: string, digest: string, context?: string): DatasetInput {
  return {
    dataset: {
      name,
      digest,
      sourceType: "local",
      source: JSON.stringify({ uri: `file:///data/${name}.txt` }),
      schema: SCHEMA,
      profile: PROFILE,
    },
    tags: context === undefined ? {} : { "mlflow.data.context": context },
  };
}

/** `<exp>/datasets/<id>/meta.yaml` of dataset `name` in MLflow's layout; returns the dataset id. */
function writeDataset(expDir: string, name: string, digest: string): string {
  const id = datasetId(name, digest);
  Deno.mkdirSync(join(expDir, "datasets", id), { recursive: true });
  Deno.writeTextFileSync(
    join(expDir, "datasets", id, "meta.yaml"),
    `digest: ${digest}\nname: ${name}\nprofile: '{"num_documents": 5000, "num_tokens": 1200000}'\n` +
      `schema: '{"mlflow_colspec": [{"type": "string", "name": "text", "required": true}]}'\n` +
      `source: '{"uri": "file:///data/${name}.txt"}'\nsource_type: local\n`,
  );
  return id;
}

/**
 * Writes `n` runs `run-0…` into experiment `expId`; run i starts at a fixed epoch + i·`spacingMs`. Every
 * `inputsEvery`-th run (0: none) has a training and a validation dataset input, like a storyteller training run.
 */
export function writeSyntheticRuns(
  store: FileStore,
  expId: string,
  n: number,
  spacingMs = 1,
  inputsEvery = 2,
): void {
  const expDir = join(store.root, expId);
  const pairs = inputsEvery > 0
    ? Array.from({ length: DATASET_PAIRS }, (_, k) => [
      writeDataset(expDir, `stories-${k}`, md5(`train${k}`).slice(0, 8)),
      writeDataset(expDir, `stories-${k}-val`, md5(`val${k}`).slice(0, 8)),
    ])
    : [];
  for (let i = 0; i < n; i++) {
    const runId = crypto.randomUUID().replaceAll("-", "");
    const dir = join(expDir, runId);
    for (const sub of ["metrics", "params", "tags", "artifacts"]) {
      Deno.mkdirSync(join(dir, sub), { recursive: true });
    }
    Deno.writeTextFileSync(
      join(dir, "meta.yaml"),
      formatRunMeta({
        runId,
        experimentId: expId,
        runName: `run-${i}`,
        userId: "bench",
        status: "FINISHED",
        startTime: 1795758701315 + i * spacingMs,
        endTime: 1795758801315 + i * spacingMs,
        artifactUri: `${store.trackingUri}/${expId}/${runId}/artifacts`,
        lifecycleStage: "active",
      }),
    );
    Deno.writeTextFileSync(join(dir, "tags", "mlflow.runName"), `run-${i}`);
    for (let m = 0; m < 20; m++) {
      Deno.writeTextFileSync(
        join(dir, "metrics", `m${m}`),
        formatMetricLine({ key: `m${m}`, value: Math.random() * 4, timestamp: 1795758701315, step: 0 }),
      );
      Deno.writeTextFileSync(join(dir, "params", `p${m}`), String(i % (m + 2)));
    }
    if (inputsEvery > 0 && i % inputsEvery === 0) {
      const [train, val] = pairs[(i / inputsEvery) % DATASET_PAIRS];
      for (const [id, context] of [[train, "training"], [val, "validation"]]) {
        const inputDir = join(dir, "inputs", md5(id + runId));
        Deno.mkdirSync(inputDir, { recursive: true });
        Deno.writeTextFileSync(
          join(inputDir, "meta.yaml"),
          `destination_id: ${id}\ndestination_type: RUN\nsource_id: ${id}\nsource_type: DATASET\n` +
            `tags:\n  mlflow.data.context: ${context}\n`,
        );
      }
    }
  }
}
