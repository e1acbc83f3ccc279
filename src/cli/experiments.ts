/** `storyteller experiments`: list, create, rename, delete and restore experiments. */
import { Command } from "commander";
import { userErrors } from "../tracking/cli_errors.ts";
import { type Experiment, openTracking, type ViewType } from "../tracking/mod.ts";
import { formatTable } from "../tracking/table.ts";
import { UsageError } from "../errors.ts";

const uriOption = [
  "--tracking-uri <uri>",
  "tracking store or server (default: MLFLOW_TRACKING_URI or ./mlruns)",
] as const;

/** An experiment given by id or by name. */
async function experimentId(trackingUri: string | undefined, idOrName: string): Promise<string> {
  const client = openTracking(trackingUri);
  const byName = await client.getExperimentByName(idOrName);
  if (byName) return byName.experimentId;
  if (/^[A-Za-z0-9][\w-]*$/.test(idOrName)) return idOrName;
  throw new UsageError(`Cannot find experiment '${idOrName}'`, {
    hint: "run `storyteller experiments list --view all`",
  });
}

export function experimentsCommand(): Command {
  const cmd = new Command("experiments").description("list and manage experiments");
  cmd.command("list").description("list experiments")
    .option("--view <type>", "active, deleted or all", "active")
    .option(...uriOption)
    .action(userErrors(async (o: { view: string; trackingUri?: string }) => {
      const views: Record<string, ViewType> = { active: "ACTIVE_ONLY", deleted: "DELETED_ONLY", all: "ALL" };
      const viewType = views[o.view];
      if (!viewType) throw new UsageError(`Cannot use --view '${o.view}': expected active, deleted or all`);
      const { experiments } = await openTracking(o.trackingUri).searchExperiments({
        viewType,
        maxResults: 50000,
      });
      console.log(experimentsTable(experiments));
    }));
  cmd.command("create").argument("<name>").description("create an experiment")
    .option("--artifact-location <uri>", "where its runs' artifacts go")
    .option(...uriOption)
    .action(userErrors(async (name: string, o: { artifactLocation?: string; trackingUri?: string }) => {
      const id = await openTracking(o.trackingUri).createExperiment(name, {
        artifactLocation: o.artifactLocation,
      });
      console.log(`Created experiment '${name}' with id ${id}`);
    }));
  cmd.command("rename").argument("<experiment>", "id or name").argument("<new-name>").description(
    "rename an experiment",
  )
    .option(...uriOption)
    .action(userErrors(async (exp: string, newName: string, o: { trackingUri?: string }) => {
      const id = await experimentId(o.trackingUri, exp);
      await openTracking(o.trackingUri).renameExperiment(id, newName);
      console.log(`Renamed experiment ${id} to '${newName}'`);
    }));
  for (const verb of ["delete", "restore"] as const) {
    cmd.command(verb).argument("<experiment>", "id or name").description(
      `${verb} an experiment (and its runs)`,
    )
      .option(...uriOption)
      .action(userErrors(async (exp: string, o: { trackingUri?: string }) => {
        const id = await experimentId(o.trackingUri, exp);
        const client = openTracking(o.trackingUri);
        await (verb === "delete" ? client.deleteExperiment(id) : client.restoreExperiment(id));
        console.log(`${verb === "delete" ? "Deleted" : "Restored"} experiment ${id}`);
      }));
  }
  return cmd;
}

export function experimentsTable(experiments: Experiment[]): string {
  if (!experiments.length) return "(no experiments)";
  return formatTable(
    ["experiment_id", "name", "lifecycle", "artifact_location"],
    experiments.map((e) => [e.experimentId, e.name, e.lifecycleStage, e.artifactLocation]),
  );
}
