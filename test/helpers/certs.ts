import selfsigned from 'selfsigned';

/**
 * A one-day self-signed certificate for localhost and 127.0.0.1 (subjectAltName), good for
 * clients that verify the name against a CA file holding this very certificate.
 */
export async function localhostCertificate(): Promise<{ cert: string; private: string }> {
  // selfsigned 5 has no `days` option; notAfterDate sets a one-day lifetime.
  return selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 86_400_000),
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
  } as never);
}
