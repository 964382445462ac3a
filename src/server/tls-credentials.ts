import { createPrivateKey, X509Certificate } from 'node:crypto';

/**
 * Checks a PEM certificate chain and private key before a listener uses them: both parse, and
 * the key belongs to the first certificate. Returns what is wrong, or undefined.
 *
 * Done by hand because runtimes differ on a bad pair: Node and Bun throw from
 * `setSecureContext`, while Deno accepts it and then fails every new TLS handshake. Checking
 * first is what lets a reload keep the running certificate.
 */
export function checkCertificatePair(cert: string, key: string): string | undefined {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (err) {
    return `the certificate is not a PEM certificate (${firstLine(err)})`;
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    return `the key is not a PEM private key (${firstLine(err)})`;
  }
  if (!certificate.checkPrivateKey(privateKey)) return `the key does not belong to the certificate (${certificate.subject.replace(/\n/g, ', ')})`;
  return undefined;
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}
