/*
 * batch.c: the SQLite batch schema, compiled in from proto/batch.sql so
 * that flowd (which writes batches) and ingestd (which checks them)
 * agree on one text.
 */

#include "proto.h"
#include "batch_sql.h"

const char *
batch_schema(void)
{
	return batch_sql;
}
