import assert from "node:assert/strict";
import { userName } from "./tracking_params.ts";

Deno.test("userName: getpass order of variables, then the passwd entry of the uid", async () => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  assert.equal(userName(env({ USER: "bob", LOGNAME: "alice" })), "alice");
  assert.equal(userName(env({ USERNAME: "carol", LNAME: "dave" })), "dave");
  const id = await new Deno.Command("id", { args: ["-un"], stdout: "piped", stderr: "null" }).output()
    .catch(() => null);
  const expected = id?.success ? new TextDecoder().decode(id.stdout).trim() : "unknown";
  assert.equal(userName(env({})), expected);
});
