/**
 * Test certificates made with `openssl` into a temporary directory: a CA, a
 * server certificate for `localhost` and `127.0.0.1`, a client certificate
 * signed by the CA (mutual TLS), and a client certificate signed by another
 * CA the hub does not trust.
 *
 * @module
 */

/** Paths and PEM texts of one test PKI. */
export interface TestPki extends AsyncDisposable {
  /** The temporary directory (removed on dispose). */
  dir: string;
  /** The trusted CA certificate file. */
  caFile: string;
  /** Server certificate and key files (SAN: localhost, 127.0.0.1). */
  serverCert: string;
  /** See serverCert. */
  serverKey: string;
  /** Client certificate and key files signed by the CA. */
  clientCert: string;
  /** See clientCert. */
  clientKey: string;
  /** Client certificate and key files signed by an untrusted CA. */
  rogueCert: string;
  /** See rogueCert. */
  rogueKey: string;
  /** Reads one of the files as text. */
  pem(path: string): string;
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `openssl ${args.join(" ")} failed: ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(dir, [
    "req",
    "-x509",
    ...EC,
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-subj",
    `/CN=pothead test ${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

async function makeLeaf(
  dir: string,
  name: string,
  ca: string,
  ext: string,
): Promise<void> {
  await openssl(dir, [
    "req",
    ...EC,
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${name}`,
  ]);
  await Deno.writeTextFile(`${dir}/${name}.ext`, ext);
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
  ]);
}

/**
 * Makes a fresh PKI in a temporary directory.
 * @returns the files; dispose to remove them
 */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await Deno.makeTempDir({ prefix: "pothead-pki-" });
  try {
    await makeCa(dir, "ca");
    await makeCa(dir, "rogue-ca");
    await makeLeaf(
      dir,
      "server",
      "ca",
      "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    );
    const client =
      "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n";
    await makeLeaf(dir, "client", "ca", client);
    await makeLeaf(dir, "rogue", "rogue-ca", client);
  } catch (err) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }
  return {
    dir,
    caFile: `${dir}/ca.pem`,
    serverCert: `${dir}/server.pem`,
    serverKey: `${dir}/server.key`,
    clientCert: `${dir}/client.pem`,
    clientKey: `${dir}/client.key`,
    rogueCert: `${dir}/rogue.pem`,
    rogueKey: `${dir}/rogue.key`,
    pem: (path) => Deno.readTextFileSync(path),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
