/** `storyteller models`: the model registry (registered models, versions from runs:/ URIs, aliases). */
import { Command } from "commander";
import { userErrors } from "../tracking/cli_errors.ts";
import { openTracking, registrationSource } from "../tracking/mod.ts";
import { formatTable } from "../tracking/table.ts";

const uriOption = [
  "--tracking-uri <uri>",
  "tracking store or server (default: MLFLOW_TRACKING_URI or ./mlruns)",
] as const;
type Uri = { trackingUri?: string };

export function modelsCommand(): Command {
  const cmd = new Command("models").description("register and manage models");
  cmd.command("create").argument("<name>").description("create a registered model")
    .option("--description <text>", "what the model is")
    .option(...uriOption)
    .action(userErrors(async (name: string, o: Uri & { description?: string }) => {
      await openTracking(o.trackingUri).createRegisteredModel(name, { description: o.description });
      console.log(`Created registered model '${name}'`);
    }));
  cmd.command("register").argument("<source>", "runs:/<run_id>/<path>, models:/<name>/<version> or a URI")
    .argument("<name>").description("register a new version of a model (the model is created if missing)")
    .option("--description <text>", "about this version")
    .option(...uriOption)
    .action(userErrors(async (source: string, name: string, o: Uri & { description?: string }) => {
      const client = openTracking(o.trackingUri);
      try {
        await client.getRegisteredModel(name);
      } catch {
        await client.createRegisteredModel(name);
      }
      // As mlflow.register_model: a runs:/ URI is stored as the artifact URI it resolves to (or the run's logged
      // model), never as runs:/, and the model's files are left alone.
      const resolved = await registrationSource(client, source);
      const mv = await client.createModelVersion(name, resolved.source, {
        description: o.description,
        runId: resolved.runId,
        modelId: resolved.modelId,
      });
      console.log(`Registered ${source} as ${name} version ${mv.version} (models:/${name}/${mv.version})`);
    }));
  cmd.command("list").description("list registered models")
    .option("--filter <filter>", "e.g. \"name LIKE 'story%'\"")
    .option(...uriOption)
    .action(userErrors(async (o: Uri & { filter?: string }) => {
      const { registeredModels } = await openTracking(o.trackingUri).searchRegisteredModels({
        filterString: o.filter,
        maxResults: 1000,
      });
      if (!registeredModels.length) return console.log("(no registered models)");
      console.log(formatTable(
        ["name", "latest", "aliases", "description"],
        registeredModels.map((m) => [
          m.name,
          m.latestVersions.map((v) => v.version).sort((a, b) => Number(b) - Number(a))[0] ?? "-",
          Object.entries(m.aliases).map(([a, v]) => `${a}=${v}`).join(" "),
          m.description ?? "",
        ]),
      ));
    }));
  cmd.command("describe").argument("<name>").description("show a registered model and its versions")
    .option(...uriOption)
    .action(userErrors(async (name: string, o: Uri) => {
      const client = openTracking(o.trackingUri);
      const m = await client.getRegisteredModel(name);
      const { modelVersions } = await client.searchModelVersions({
        filterString: `name = '${name.replaceAll("'", "")}'`,
      });
      const lines = [`model ${m.name}`, `  description: ${m.description ?? "-"}`];
      for (const [k, v] of Object.entries(m.tags)) lines.push(`  tag ${k}: ${v}`);
      lines.push(formatTable(
        ["version", "stage", "aliases", "source", "run_id"],
        modelVersions.sort((a, b) => Number(a.version) - Number(b.version))
          .map((v) => [v.version, v.currentStage, v.aliases.join(" "), v.source, v.runId ?? ""]),
      ));
      console.log(lines.join("\n"));
    }));
  cmd.command("set-alias").argument("<name>").argument("<alias>").argument("<version>").description(
    "point an alias at a version",
  )
    .option(...uriOption)
    .action(userErrors(async (name: string, alias: string, version: string, o: Uri) => {
      await openTracking(o.trackingUri).setRegisteredModelAlias(name, alias, version);
      console.log(`models:/${name}@${alias} → version ${version}`);
    }));
  cmd.command("delete-alias").argument("<name>").argument("<alias>").description("remove an alias")
    .option(...uriOption)
    .action(userErrors(async (name: string, alias: string, o: Uri) => {
      await openTracking(o.trackingUri).deleteRegisteredModelAlias(name, alias);
      console.log(`Deleted alias '${alias}' of '${name}'`);
    }));
  return cmd;
}
