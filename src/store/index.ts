/**
 * Metadata in SQLite: images, tags, unpacked layers and containers. Every
 * multi-row change runs in a transaction, so a crash leaves the old state or
 * the new one, never half of each. Blobs and root filesystems live on disk
 * beside the database; this store only records them.
 */
import Database from 'better-sqlite3';

export interface ImageRow {
  id: string;            // sha256:… of the config blob, as docker's image ID
  manifestDigest: string;
  size: number;          // unpacked size in bytes
  created: string;
}

export interface LayerRow {
  chainId: string;
  diffId: string;
  parent: string | null; // chain ID of the layer below
  blobDigest: string;
  size: number;          // unpacked size in bytes
}

export interface ContainerRow {
  id: string;
  name: string;
  imageId: string;
  record: string;        // JSON of the container record, owned by `containers/`
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS images (
  id TEXT PRIMARY KEY, manifest_digest TEXT NOT NULL, size INTEGER NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tags (
  ref TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id));
CREATE TABLE IF NOT EXISTS layers (
  chain_id TEXT PRIMARY KEY, diff_id TEXT NOT NULL, parent TEXT, blob_digest TEXT NOT NULL, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS image_layers (
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE, idx INTEGER NOT NULL, chain_id TEXT NOT NULL,
  PRIMARY KEY (image_id, idx));
CREATE TABLE IF NOT EXISTS repo_digests (
  ref TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id));
CREATE TABLE IF NOT EXISTS blob_sources (
  digest TEXT NOT NULL, registry TEXT NOT NULL, repo TEXT NOT NULL, PRIMARY KEY (digest, registry, repo));
CREATE TABLE IF NOT EXISTS image_parents (
  image_id TEXT PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE, parent_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS build_cache (
  key TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS containers (
  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, image_id TEXT NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS networks (
  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS volumes (
  name TEXT PRIMARY KEY, record TEXT NOT NULL);
`;

export class Store {
  private db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // ---- images and tags ----

  putImage(img: ImageRow, chainIds: string[]): void {
    this.transaction(() => {
      this.db.prepare('INSERT OR IGNORE INTO images (id, manifest_digest, size, created) VALUES (?, ?, ?, ?)')
        .run(img.id, img.manifestDigest, img.size, img.created);
      const ins = this.db.prepare('INSERT OR IGNORE INTO image_layers (image_id, idx, chain_id) VALUES (?, ?, ?)');
      chainIds.forEach((c, i) => ins.run(img.id, i, c));
    });
  }

  getImage(id: string): ImageRow | undefined {
    const r = this.db.prepare('SELECT id, manifest_digest AS manifestDigest, size, created FROM images WHERE id = ?').get(id);
    return r as ImageRow | undefined;
  }

  listImages(): ImageRow[] {
    return this.db.prepare('SELECT id, manifest_digest AS manifestDigest, size, created FROM images ORDER BY created DESC').all() as ImageRow[];
  }

  imageChain(id: string): string[] {
    return (this.db.prepare('SELECT chain_id FROM image_layers WHERE image_id = ? ORDER BY idx').all(id) as { chain_id: string }[])
      .map((r) => r.chain_id);
  }

  deleteImage(id: string): void {
    this.transaction(() => {
      this.db.prepare('DELETE FROM tags WHERE image_id = ?').run(id);
      this.db.prepare('DELETE FROM repo_digests WHERE image_id = ?').run(id);
      this.db.prepare('DELETE FROM build_cache WHERE image_id = ?').run(id);
      this.db.prepare('DELETE FROM image_parents WHERE image_id = ?').run(id);
      this.db.prepare('DELETE FROM image_layers WHERE image_id = ?').run(id);
      this.db.prepare('DELETE FROM images WHERE id = ?').run(id);
    });
  }

  setTag(ref: string, imageId: string): void {
    this.db.prepare('INSERT INTO tags (ref, image_id) VALUES (?, ?) ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id')
      .run(ref, imageId);
  }

  deleteTag(ref: string): boolean {
    return this.db.prepare('DELETE FROM tags WHERE ref = ?').run(ref).changes > 0;
  }

  resolveTag(ref: string): string | undefined {
    const r = this.db.prepare('SELECT image_id FROM tags WHERE ref = ?').get(ref) as { image_id: string } | undefined;
    return r?.image_id;
  }

  tagsOf(imageId: string): string[] {
    return (this.db.prepare('SELECT ref FROM tags WHERE image_id = ? ORDER BY ref').all(imageId) as { ref: string }[]).map((r) => r.ref);
  }

  /** The tags of one repository (`docker.io/library/busybox`), by tag in byte order as dockerd's ReferencesByName sorts them. */
  tagsIn(repository: string): { tag: string; imageId: string }[] {
    // A tag holds no ':' or '/', so `repository:` followed by neither names exactly this repository's tags.
    const rows = this.db.prepare("SELECT ref, image_id FROM tags WHERE substr(ref, 1, ?) = ? AND instr(substr(ref, ? + 1), ':') = 0 AND instr(substr(ref, ? + 1), '/') = 0 ORDER BY ref")
      .all(repository.length + 1, `${repository}:`, repository.length + 1, repository.length + 1) as { ref: string; image_id: string }[];
    return rows.map((r) => ({ tag: r.ref.slice(repository.length + 1), imageId: r.image_id }));
  }

  /** `repo@sha256:…`: the manifest digest an image had in a registry. */
  setRepoDigest(ref: string, imageId: string): void {
    this.db.prepare('INSERT INTO repo_digests (ref, image_id) VALUES (?, ?) ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id')
      .run(ref, imageId);
  }

  deleteRepoDigest(ref: string): void {
    this.db.prepare('DELETE FROM repo_digests WHERE ref = ?').run(ref);
  }

  repoDigestsOf(imageId: string): string[] {
    return (this.db.prepare('SELECT ref FROM repo_digests WHERE image_id = ? ORDER BY ref').all(imageId) as { ref: string }[]).map((r) => r.ref);
  }

  resolveRepoDigest(ref: string): string | undefined {
    const r = this.db.prepare('SELECT image_id FROM repo_digests WHERE ref = ?').get(ref) as { image_id: string } | undefined;
    return r?.image_id;
  }

  addBlobSource(digest: string, registry: string, repo: string): void {
    this.db.prepare('INSERT OR IGNORE INTO blob_sources (digest, registry, repo) VALUES (?, ?, ?)').run(digest, registry, repo);
  }

  blobSources(digest: string, registry: string): string[] {
    return (this.db.prepare('SELECT repo FROM blob_sources WHERE digest = ? AND registry = ?').all(digest, registry) as { repo: string }[]).map((r) => r.repo);
  }

  /** Images a build made from another one: hidden from `images` while untagged, removed with their child. */
  setParent(imageId: string, parentId: string): void {
    this.db.prepare('INSERT OR REPLACE INTO image_parents (image_id, parent_id) VALUES (?, ?)').run(imageId, parentId);
  }

  parentOf(imageId: string): string | undefined {
    return (this.db.prepare('SELECT parent_id FROM image_parents WHERE image_id = ?').get(imageId) as { parent_id: string } | undefined)?.parent_id;
  }

  childrenOf(imageId: string): string[] {
    return (this.db.prepare('SELECT image_id FROM image_parents WHERE parent_id = ?').all(imageId) as { image_id: string }[]).map((r) => r.image_id);
  }

  cachedBuildStep(key: string): string | undefined {
    return (this.db.prepare('SELECT image_id FROM build_cache WHERE key = ?').get(key) as { image_id: string } | undefined)?.image_id;
  }

  cacheBuildStep(key: string, imageId: string): void {
    this.db.prepare('INSERT OR REPLACE INTO build_cache (key, image_id) VALUES (?, ?)').run(key, imageId);
  }

  // ---- layers ----

  putLayer(l: LayerRow): void {
    this.db.prepare('INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, blob_digest, size) VALUES (?, ?, ?, ?, ?)')
      .run(l.chainId, l.diffId, l.parent, l.blobDigest, l.size);
  }

  getLayer(chainId: string): LayerRow | undefined {
    return this.db.prepare('SELECT chain_id AS chainId, diff_id AS diffId, parent, blob_digest AS blobDigest, size FROM layers WHERE chain_id = ?')
      .get(chainId) as LayerRow | undefined;
  }

  /** Layers that no image references any more, topmost first so children go before parents. */
  unreferencedLayers(): string[] {
    return (this.db.prepare(`SELECT chain_id FROM layers WHERE chain_id NOT IN (SELECT chain_id FROM image_layers)
      AND chain_id NOT IN (SELECT parent FROM layers WHERE parent IS NOT NULL)`).all() as { chain_id: string }[]).map((r) => r.chain_id);
  }

  totalLayerSize(): number {
    return (this.db.prepare('SELECT COALESCE(SUM(size), 0) AS n FROM layers').get() as { n: number }).n;
  }

  deleteLayer(chainId: string): void {
    this.db.prepare('DELETE FROM layers WHERE chain_id = ?').run(chainId);
  }

  // ---- containers ----

  putContainer(c: ContainerRow): void {
    this.db.prepare(`INSERT INTO containers (id, name, image_id, record) VALUES (?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET name = excluded.name, record = excluded.record`).run(c.id, c.name, c.imageId, c.record);
  }

  listContainers(): ContainerRow[] {
    return this.db.prepare('SELECT id, name, image_id AS imageId, record FROM containers').all() as ContainerRow[];
  }

  deleteContainer(id: string): void {
    this.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
  }

  containersUsingImage(imageId: string): string[] {
    return (this.db.prepare('SELECT id FROM containers WHERE image_id = ?').all(imageId) as { id: string }[]).map((r) => r.id);
  }

  // ---- networks and volumes: records as JSON, owned by `network/` and `volumes/` ----

  /** Inserts a network; a name already taken throws (the UNIQUE constraint), so two creates cannot both get it. */
  insertNetwork(id: string, name: string, record: string): void {
    this.db.prepare('INSERT INTO networks (id, name, record) VALUES (?, ?, ?)').run(id, name, record);
  }

  listNetworks(): { id: string; record: string }[] {
    return this.db.prepare('SELECT id, record FROM networks').all() as { id: string; record: string }[];
  }

  deleteNetwork(id: string): void {
    this.db.prepare('DELETE FROM networks WHERE id = ?').run(id);
  }

  putVolume(name: string, record: string): void {
    this.db.prepare('INSERT INTO volumes (name, record) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET record = excluded.record').run(name, record);
  }

  listVolumes(): { name: string; record: string }[] {
    return this.db.prepare('SELECT name, record FROM volumes').all() as { name: string; record: string }[];
  }

  deleteVolume(name: string): void {
    this.db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
  }
}
