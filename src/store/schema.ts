// The schema lives in the code, as an ordered list of migrations (never read from the working directory, which
// would break nu-agent whenever it is started from elsewhere). Each migration runs in one transaction
// together with the bump of schema_version, so a crash leaves the file at the old version or the new one.

export const EMBEDDING_DIMENSIONS = 384;

export interface Migration {
  version: number;
  description: string;
  statements: string[];
}

export const migrations: Migration[] = [
  {
    version: 1,
    description: 'conversations, exchanges, messages, appconfig, command history',
    statements: [
      `CREATE SEQUENCE IF NOT EXISTS conversations_id_seq START 1`,
      `CREATE TABLE conversations (
         id BIGINT PRIMARY KEY DEFAULT nextval('conversations_id_seq'),
         created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
         title VARCHAR,
         status VARCHAR NOT NULL DEFAULT 'active',
         summary VARCHAR,
         summary_model VARCHAR,
         summarized_at TIMESTAMPTZ,
         summary_cost DOUBLE
       )`,
      `CREATE SEQUENCE IF NOT EXISTS exchanges_id_seq START 1`,
      `CREATE TABLE exchanges (
         id BIGINT PRIMARY KEY DEFAULT nextval('exchanges_id_seq'),
         conversation_id BIGINT NOT NULL,
         exchange_number INTEGER NOT NULL,
         started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
         completed_at TIMESTAMPTZ,
         status VARCHAR NOT NULL DEFAULT 'in_progress',
         error VARCHAR,
         user_message VARCHAR NOT NULL,
         assistant_message VARCHAR,
         model VARCHAR,
         tokens_input INTEGER,
         tokens_output INTEGER,
         spend DOUBLE,
         duration_ms INTEGER,
         summary VARCHAR,
         summary_model VARCHAR,
         summarized_at TIMESTAMPTZ
       )`,
      `CREATE SEQUENCE IF NOT EXISTS messages_id_seq START 1`,
      `CREATE TABLE messages (
         id BIGINT PRIMARY KEY DEFAULT nextval('messages_id_seq'),
         conversation_id BIGINT NOT NULL,
         exchange_id BIGINT,
         role VARCHAR NOT NULL,
         content VARCHAR NOT NULL,
         model VARCHAR,
         tokens_input INTEGER,
         tokens_output INTEGER,
         created_at TIMESTAMPTZ NOT NULL DEFAULT now()
       )`,
      `CREATE TABLE appconfig (
         key VARCHAR PRIMARY KEY,
         value VARCHAR NOT NULL,
         updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
       )`,
      `CREATE SEQUENCE IF NOT EXISTS command_history_id_seq START 1`,
      `CREATE TABLE command_history (
         id BIGINT PRIMARY KEY DEFAULT nextval('command_history_id_seq'),
         command VARCHAR NOT NULL,
         created_at TIMESTAMPTZ NOT NULL DEFAULT now()
       )`,
    ],
  },
  {
    version: 2,
    description: 'embeddings and failed background jobs',
    statements: [
      `CREATE TABLE embeddings (
         kind VARCHAR NOT NULL,
         source_id BIGINT NOT NULL,
         content VARCHAR NOT NULL,
         embedding FLOAT[${EMBEDDING_DIMENSIONS}] NOT NULL,
         model VARCHAR NOT NULL,
         created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
         PRIMARY KEY (kind, source_id)
       )`,
      `CREATE SEQUENCE IF NOT EXISTS failed_jobs_id_seq START 1`,
      `CREATE TABLE failed_jobs (
         id BIGINT PRIMARY KEY DEFAULT nextval('failed_jobs_id_seq'),
         job VARCHAR NOT NULL,
         item_kind VARCHAR NOT NULL,
         item_id BIGINT NOT NULL,
         error VARCHAR NOT NULL,
         attempts INTEGER NOT NULL DEFAULT 1,
         failed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
         retry_after TIMESTAMPTZ NOT NULL
       )`,
    ],
  },
  {
    version: 3,
    description: 'backup runs',
    statements: [
      `CREATE SEQUENCE IF NOT EXISTS backup_runs_id_seq START 1`,
      `CREATE TABLE backup_runs (
         id BIGINT PRIMARY KEY DEFAULT nextval('backup_runs_id_seq'),
         trigger VARCHAR NOT NULL,
         kind VARCHAR NOT NULL DEFAULT 'backup',
         started_at TIMESTAMPTZ NOT NULL,
         finished_at TIMESTAMPTZ NOT NULL,
         result VARCHAR NOT NULL,
         path VARCHAR,
         size_bytes BIGINT,
         hash_algorithm VARCHAR,
         hash VARCHAR,
         state_durations VARCHAR,
         error VARCHAR
       )`,
    ],
  },
];

export const LATEST_SCHEMA_VERSION = migrations[migrations.length - 1]!.version;
