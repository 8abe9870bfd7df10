/* A small shim on libhdf5's H5A/H5T/H5D API for what gonum.org/v1/hdf5 lacks: attribute
 * listing, string attributes (fixed-length and variable-length), reads and writes with an
 * explicit memory type and a hyperslab, type/shape/storage queries, and error messages. */
#ifndef GOODNET_H5SHIM_H
#define GOODNET_H5SHIM_H

#include <stddef.h>
#include "hdf5.h"

#define GN_MAX_RANK 32

/* Memory element types for gn_dset_read/gn_dset_write. */
enum { GN_F32 = 0, GN_F64 = 1, GN_U8 = 2, GN_I64 = 3 };

/* Object kinds. */
enum { GN_NONE = 0, GN_GROUP = 1, GN_DATASET = 2, GN_OTHER = 3 };

typedef struct {
	int tclass;      /* H5T_class_t */
	size_t size;     /* bytes per element */
	int sign;        /* H5T_sign_t, integers */
	int vlen_str;    /* variable-length string */
	int strpad;      /* H5T_str_t, strings */
	int cset;        /* H5T_cset_t, strings */
	int order;       /* H5T_order_t */
	/* numbers: 1 when the layout is a standard one (integers of 1, 2, 4 or 8 bytes and IEEE
	 * float32/float64, every bit used, little- or big-endian): libhdf5's conversions of other
	 * layouts are not trusted with data from strangers. */
	int std_layout;
	size_t precision; /* numbers: significant bits */
	int offset;       /* numbers: bit offset of the first significant bit */
	int space_class; /* H5S_class_t */
	int rank;
	hsize_t dims[GN_MAX_RANK];
	/* datasets only */
	hsize_t storage;  /* bytes allocated in the file */
	int layout;       /* H5D_layout_t */
	int nfilters;     /* filters in the pipeline (compression) */
	int external;     /* external storage files */
} gn_info;

void gn_quiet(void);
void gn_last_error(char *buf, size_t n);
int gn_kind(hid_t file, const char *path);
int gn_attr_count(hid_t file, const char *obj);
ssize_t gn_attr_name(hid_t file, const char *obj, hsize_t i, char *buf, size_t n);
int gn_attr_exists(hid_t file, const char *obj, const char *name);
int gn_attr_info(hid_t file, const char *obj, const char *name, gn_info *out);
int gn_dset_info(hid_t file, const char *path, gn_info *out);
int gn_attr_read_fixed_str(hid_t file, const char *obj, const char *name, char *buf, size_t bufsize);
char *gn_attr_read_vlen_str(hid_t file, const char *obj, const char *name, hssize_t n, size_t *total);
int gn_attr_read_double(hid_t file, const char *obj, const char *name, double *buf, hssize_t n);
int gn_dset_read(hid_t file, const char *path, int memkind, int rank, const hsize_t *start,
		 const hsize_t *count, void *buf);
int gn_dset_write(hid_t file, const char *path, int memkind, int rank, const hsize_t *start,
		  const hsize_t *count, const void *buf);
int gn_attr_write_fixed_str(hid_t file, const char *obj, const char *name, const char *buf,
			    size_t strsize, hsize_t n);
int gn_attr_write_vlen_str(hid_t file, const char *obj, const char *name, const char *val, int utf8);
int gn_attr_write_vlen_strs(hid_t file, const char *obj, const char *name, const char **vals, hsize_t n,
			    int utf8);
int gn_attr_write_empty_f64(hid_t file, const char *obj, const char *name);
int gn_dset_create(hid_t file, const char *path, int kind, int rank, const hsize_t *dims);
/* A dataset's storage layout. */
typedef struct {
	int layout;          /* H5D_layout_t */
	long long offset;    /* contiguous: file offset of the data, -1 when not allocated */
	int chunk_rank;      /* chunked: the chunk's shape */
	hsize_t chunk[GN_MAX_RANK];
	long long nchunks;   /* chunked: chunks stored in the file, -1 if unknown */
	int space_status;    /* H5D_space_status_t */
	int filters[8];      /* the filter pipeline's ids (the first 8) */
	int nfilters;
} gn_layout;

int gn_dset_layout(hid_t file, const char *path, gn_layout *out);
int gn_obj_addr(hid_t file, const char *path, unsigned long long *addr, unsigned *refs);
char *gn_children(hid_t file, const char *group, long max, size_t *total, long *count);
int gn_dset_create_chunked(hid_t file, const char *path, int kind, int rank, const hsize_t *dims,
			   const hsize_t *maxdims, const hsize_t *chunk, int deflate);
int gn_dset_write_chunk(hid_t file, const char *path, int rank, const hsize_t *offset, unsigned mask,
			const void *buf, size_t size);
int gn_link_hard(hid_t file, const char *target, const char *name);
int gn_attr_delete(hid_t file, const char *obj, const char *name);
hid_t gn_open_fd(int fd);
int gn_close_file(hid_t file);
long gn_open_objects(hid_t file);
long gn_open_ids(void);

#endif
