CREATE TABLE "backfill_jobs" (
	"id" text PRIMARY KEY NOT NULL,
	"chain_id" integer NOT NULL,
	"from_block" bigint NOT NULL,
	"to_block" bigint NOT NULL,
	"next_block" bigint NOT NULL,
	"status" text NOT NULL,
	"deposits_found" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "backfill_jobs_status_check" CHECK ("backfill_jobs"."status" in ('running', 'done', 'failed')),
	CONSTRAINT "backfill_jobs_range_check" CHECK ("backfill_jobs"."from_block" <= "backfill_jobs"."to_block"),
	CONSTRAINT "backfill_jobs_next_check" CHECK ("backfill_jobs"."next_block" between "backfill_jobs"."from_block" and "backfill_jobs"."to_block" + 1)
);
