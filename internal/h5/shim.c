#include <stdlib.h>
#include <string.h>
#include "shim.h"

/* libhdf5 keeps the automatic error printing per thread in thread-safe builds: every entry
 * point from Go silences it on the thread it runs on (the Go side locks the OS thread). */
void gn_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

typedef struct {
	char *buf;
	size_t n;
	int done;
} gn_errbuf;

static herr_t gn_walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
	gn_errbuf *b = (gn_errbuf *)data;
	(void)n;
	if (b->done || e->desc == NULL || e->desc[0] == 0)
		return 0;
	strncpy(b->buf, e->desc, b->n - 1);
	b->buf[b->n - 1] = 0;
	b->done = 1;
	return 0;
}

/* gn_last_error copies the innermost (most specific) message of the thread's error stack. */
void gn_last_error(char *buf, size_t n) {
	gn_errbuf b = {buf, n, 0};
	if (n == 0)
		return;
	buf[0] = 0;
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, gn_walk_cb, &b);
}

static int is_root(const char *path) {
	return path[0] == 0 || strcmp(path, "/") == 0 || strcmp(path, ".") == 0;
}

/* gn_kind: what the path names (GN_NONE when any component is missing). */
int gn_kind(hid_t file, const char *path) {
	size_t len = strlen(path), i;
	char *p;
	hid_t obj;
	int kind;
	if (is_root(path))
		return GN_GROUP;
	p = (char *)malloc(len + 1);
	if (p == NULL)
		return -1;
	memcpy(p, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (p[i] == '/' || p[i] == 0) {
			char c = p[i];
			htri_t ok;
			H5L_info_t li;
			p[i] = 0;
			ok = H5Lexists(file, p, H5P_DEFAULT);
			/* never follow a link to another file (an external link names any path on
			 * this machine) or of a user-defined class */
			if (ok > 0 && (H5Lget_info(file, p, &li, H5P_DEFAULT) < 0 ||
				       (li.type != H5L_TYPE_HARD && li.type != H5L_TYPE_SOFT))) {
				free(p);
				return GN_OTHER;
			}
			p[i] = c;
			if (ok <= 0) {
				free(p);
				return GN_NONE;
			}
		}
	}
	free(p);
	obj = H5Oopen(file, path, H5P_DEFAULT);
	if (obj < 0)
		return GN_NONE;
	switch (H5Iget_type(obj)) {
	case H5I_GROUP:
		kind = GN_GROUP;
		break;
	case H5I_DATASET:
		kind = GN_DATASET;
		break;
	default:
		kind = GN_OTHER;
	}
	H5Oclose(obj);
	return kind;
}

static const char *objname(const char *obj) { return is_root(obj) ? "/" : obj; }

static herr_t gn_count_cb(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
	(void)loc;
	(void)name;
	(void)info;
	(*(int *)data)++;
	return 0;
}

int gn_attr_count(hid_t file, const char *obj) {
	int n = 0;
	hsize_t idx = 0;
	if (H5Aiterate_by_name(file, objname(obj), H5_INDEX_NAME, H5_ITER_INC, &idx, gn_count_cb, &n,
			       H5P_DEFAULT) < 0)
		return -1;
	return n;
}

ssize_t gn_attr_name(hid_t file, const char *obj, hsize_t i, char *buf, size_t n) {
	return H5Aget_name_by_idx(file, objname(obj), H5_INDEX_NAME, H5_ITER_INC, i, buf, n, H5P_DEFAULT);
}

int gn_attr_exists(hid_t file, const char *obj, const char *name) {
	return (int)H5Aexists_by_name(file, objname(obj), name, H5P_DEFAULT);
}

static int fill_type(hid_t t, gn_info *out) {
	H5T_class_t c = H5Tget_class(t);
	if (c < 0)
		return -1;
	out->tclass = (int)c;
	out->size = H5Tget_size(t);
	out->order = (int)H5Tget_order(t);
	out->sign = -1;
	out->vlen_str = 0;
	out->strpad = -1;
	out->cset = -1;
	out->std_layout = 0;
	out->precision = 0;
	out->offset = 0;
	if (c == H5T_INTEGER)
		out->sign = (int)H5Tget_sign(t);
	if (c == H5T_INTEGER || c == H5T_FLOAT) {
		size_t sz = out->size, prec = H5Tget_precision(t);
		int off = H5Tget_offset(t), ok;
		out->precision = prec;
		out->offset = off;
		ok = prec == 8 * sz && off == 0 && (out->order == H5T_ORDER_LE || out->order == H5T_ORDER_BE);
		if (c == H5T_INTEGER)
			ok = ok && (sz == 1 || sz == 2 || sz == 4 || sz == 8) &&
			     (out->sign == H5T_SGN_NONE || out->sign == H5T_SGN_2);
		else {
			size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0, ebias = H5Tget_ebias(t);
			ok = ok && H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize) >= 0 &&
			     H5Tget_norm(t) == H5T_NORM_IMPLIED &&
			     ((sz == 4 && spos == 31 && epos == 23 && esize == 8 && mpos == 0 && msize == 23 &&
			       ebias == 127) ||
			      (sz == 8 && spos == 63 && epos == 52 && esize == 11 && mpos == 0 && msize == 52 &&
			       ebias == 1023));
		}
		out->std_layout = ok;
	}
	if (c == H5T_STRING) {
		htri_t v = H5Tis_variable_str(t);
		if (v < 0)
			return -1;
		out->vlen_str = v > 0;
		out->strpad = (int)H5Tget_strpad(t);
		out->cset = (int)H5Tget_cset(t);
	}
	return 0;
}

static int fill_space(hid_t s, gn_info *out) {
	H5S_class_t c = H5Sget_simple_extent_type(s);
	int r;
	if (c < 0)
		return -1;
	out->space_class = (int)c;
	r = H5Sget_simple_extent_ndims(s);
	if (r < 0 || r > GN_MAX_RANK)
		return -1;
	out->rank = r;
	if (r > 0 && H5Sget_simple_extent_dims(s, out->dims, NULL) < 0)
		return -1;
	return 0;
}

int gn_attr_info(hid_t file, const char *obj, const char *name, gn_info *out) {
	hid_t a, t, s;
	int rc = -1;
	memset(out, 0, sizeof(*out));
	a = H5Aopen_by_name(file, objname(obj), name, H5P_DEFAULT, H5P_DEFAULT);
	if (a < 0)
		return -1;
	t = H5Aget_type(a);
	s = H5Aget_space(a);
	if (t >= 0 && s >= 0 && fill_type(t, out) == 0 && fill_space(s, out) == 0)
		rc = 0;
	if (t >= 0)
		H5Tclose(t);
	if (s >= 0)
		H5Sclose(s);
	H5Aclose(a);
	return rc;
}

int gn_dset_info(hid_t file, const char *path, gn_info *out) {
	hid_t d, t, s, p;
	int rc = -1;
	memset(out, 0, sizeof(*out));
	d = H5Dopen2(file, path, H5P_DEFAULT);
	if (d < 0)
		return -1;
	t = H5Dget_type(d);
	s = H5Dget_space(d);
	p = H5Dget_create_plist(d);
	if (t >= 0 && s >= 0 && p >= 0 && fill_type(t, out) == 0 && fill_space(s, out) == 0) {
		out->storage = H5Dget_storage_size(d);
		out->layout = (int)H5Pget_layout(p);
		out->nfilters = H5Pget_nfilters(p);
		out->external = H5Pget_external_count(p);
		if (out->layout >= 0 && out->nfilters >= 0 && out->external >= 0)
			rc = 0;
	}
	if (t >= 0)
		H5Tclose(t);
	if (s >= 0)
		H5Sclose(s);
	if (p >= 0)
		H5Pclose(p);
	H5Dclose(d);
	return rc;
}

/* gn_attr_read_fixed_str reads a fixed-length string attribute as raw bytes (bufsize must be
 * the number of elements times the string size). */
int gn_attr_read_fixed_str(hid_t file, const char *obj, const char *name, char *buf, size_t bufsize) {
	hid_t a, ft, mt, s;
	int rc = -1;
	a = H5Aopen_by_name(file, objname(obj), name, H5P_DEFAULT, H5P_DEFAULT);
	if (a < 0)
		return -1;
	ft = H5Aget_type(a);
	s = H5Aget_space(a);
	if (ft >= 0 && s >= 0) {
		size_t sz = H5Tget_size(ft);
		hssize_t n = H5Sget_simple_extent_npoints(s);
		mt = H5Tcopy(ft);
		if (mt >= 0) {
			if (n >= 0 && sz * (size_t)n == bufsize && H5Tset_strpad(mt, H5T_STR_NULLPAD) >= 0 &&
			    (bufsize == 0 || H5Aread(a, mt, buf) >= 0))
				rc = 0;
			H5Tclose(mt);
		}
	}
	if (ft >= 0)
		H5Tclose(ft);
	if (s >= 0)
		H5Sclose(s);
	H5Aclose(a);
	return rc;
}

/* gn_attr_read_vlen_str reads n variable-length strings into one malloc'd buffer, each
 * terminated by a NUL; *total is its length. NULL on error. */
char *gn_attr_read_vlen_str(hid_t file, const char *obj, const char *name, hssize_t n, size_t *total) {
	hid_t a, ft = -1, mt = -1, s = -1;
	char **ptrs = NULL, *out = NULL;
	hssize_t i;
	int ok = 0;
	*total = 0;
	a = H5Aopen_by_name(file, objname(obj), name, H5P_DEFAULT, H5P_DEFAULT);
	if (a < 0)
		return NULL;
	ft = H5Aget_type(a);
	s = H5Aget_space(a);
	if (ft < 0 || s < 0 || H5Sget_simple_extent_npoints(s) != n || n <= 0)
		goto done;
	mt = H5Tcopy(H5T_C_S1);
	if (mt < 0 || H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Tset_cset(mt, H5Tget_cset(ft)) < 0)
		goto done;
	ptrs = (char **)calloc((size_t)n, sizeof(char *));
	if (ptrs == NULL)
		goto done;
	if (H5Aread(a, mt, ptrs) < 0) {
		free(ptrs);
		ptrs = NULL;
		goto done;
	}
	for (i = 0; i < n; i++)
		*total += (ptrs[i] ? strlen(ptrs[i]) : 0) + 1;
	out = (char *)malloc(*total);
	if (out != NULL) {
		char *q = out;
		for (i = 0; i < n; i++) {
			size_t l = ptrs[i] ? strlen(ptrs[i]) : 0;
			if (l)
				memcpy(q, ptrs[i], l);
			q[l] = 0;
			q += l + 1;
		}
		ok = 1;
	}
	H5Dvlen_reclaim(mt, s, H5P_DEFAULT, ptrs);
done:
	free(ptrs);
	if (mt >= 0)
		H5Tclose(mt);
	if (ft >= 0)
		H5Tclose(ft);
	if (s >= 0)
		H5Sclose(s);
	H5Aclose(a);
	if (!ok) {
		free(out);
		*total = 0;
		return NULL;
	}
	return out;
}

int gn_attr_read_double(hid_t file, const char *obj, const char *name, double *buf, hssize_t n) {
	hid_t a, s;
	int rc = -1;
	a = H5Aopen_by_name(file, objname(obj), name, H5P_DEFAULT, H5P_DEFAULT);
	if (a < 0)
		return -1;
	s = H5Aget_space(a);
	if (s >= 0 && H5Sget_simple_extent_npoints(s) == n && (n == 0 || H5Aread(a, H5T_NATIVE_DOUBLE, buf) >= 0))
		rc = 0;
	if (s >= 0)
		H5Sclose(s);
	H5Aclose(a);
	return rc;
}

static hid_t memtype(int kind) {
	switch (kind) {
	case GN_F32:
		return H5T_NATIVE_FLOAT;
	case GN_F64:
		return H5T_NATIVE_DOUBLE;
	case GN_U8:
		return H5T_NATIVE_UINT8;
	case GN_I64:
		return H5T_NATIVE_INT64;
	}
	return -1;
}

/* select: with start == NULL the whole dataset, else the hyperslab start/count (rank must
 * match the dataset's). Returns the memory dataspace or -1. */
static hid_t select_slab(hid_t fs, int rank, const hsize_t *start, const hsize_t *count) {
	if (start == NULL)
		return H5Scopy(fs);
	if (H5Sget_simple_extent_ndims(fs) != rank)
		return -1;
	if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
		return -1;
	return H5Screate_simple(rank, count, NULL);
}

int gn_dset_read(hid_t file, const char *path, int memkind, int rank, const hsize_t *start,
		 const hsize_t *count, void *buf) {
	hid_t d, fs, ms;
	hid_t mt = memtype(memkind);
	int rc = -1;
	if (mt < 0)
		return -1;
	d = H5Dopen2(file, path, H5P_DEFAULT);
	if (d < 0)
		return -1;
	fs = H5Dget_space(d);
	if (fs >= 0) {
		ms = select_slab(fs, rank, start, count);
		if (ms >= 0) {
			if (H5Dread(d, mt, ms, fs, H5P_DEFAULT, buf) >= 0)
				rc = 0;
			H5Sclose(ms);
		}
		H5Sclose(fs);
	}
	H5Dclose(d);
	return rc;
}

int gn_dset_write(hid_t file, const char *path, int memkind, int rank, const hsize_t *start,
		  const hsize_t *count, const void *buf) {
	hid_t d, fs, ms;
	hid_t mt = memtype(memkind);
	int rc = -1;
	if (mt < 0)
		return -1;
	d = H5Dopen2(file, path, H5P_DEFAULT);
	if (d < 0)
		return -1;
	fs = H5Dget_space(d);
	if (fs >= 0) {
		ms = select_slab(fs, rank, start, count);
		if (ms >= 0) {
			if (H5Dwrite(d, mt, ms, fs, H5P_DEFAULT, buf) >= 0)
				rc = 0;
			H5Sclose(ms);
		}
		H5Sclose(fs);
	}
	H5Dclose(d);
	return rc;
}

/* gn_attr_write_fixed_str writes n fixed-length (strsize bytes, NULL-padded, ASCII) strings
 * as a 1-D attribute, as h5py writes a numpy array of bytes (dtype S). */
int gn_attr_write_fixed_str(hid_t file, const char *obj, const char *name, const char *buf,
			    size_t strsize, hsize_t n) {
	hid_t t, s, a;
	int rc = -1;
	t = H5Tcopy(H5T_C_S1);
	if (t < 0)
		return -1;
	if (H5Tset_size(t, strsize) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
	    H5Tset_cset(t, H5T_CSET_ASCII) < 0) {
		H5Tclose(t);
		return -1;
	}
	s = H5Screate_simple(1, &n, NULL);
	if (s >= 0) {
		a = H5Acreate_by_name(file, objname(obj), name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
		if (a >= 0) {
			if (H5Awrite(a, t, buf) >= 0)
				rc = 0;
			H5Aclose(a);
		}
		H5Sclose(s);
	}
	H5Tclose(t);
	return rc;
}

/* gn_attr_write_vlen_str writes a scalar variable-length string attribute (NULL-terminated;
 * ASCII as h5py writes bytes, UTF-8 as it writes str). */
int gn_attr_write_vlen_str(hid_t file, const char *obj, const char *name, const char *val, int utf8) {
	hid_t t, s, a;
	int rc = -1;
	t = H5Tcopy(H5T_C_S1);
	if (t < 0)
		return -1;
	if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 ||
	    H5Tset_cset(t, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII) < 0) {
		H5Tclose(t);
		return -1;
	}
	s = H5Screate(H5S_SCALAR);
	if (s >= 0) {
		a = H5Acreate_by_name(file, objname(obj), name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
		if (a >= 0) {
			if (H5Awrite(a, t, &val) >= 0)
				rc = 0;
			H5Aclose(a);
		}
		H5Sclose(s);
	}
	H5Tclose(t);
	return rc;
}

/* gn_attr_write_vlen_strs writes n variable-length strings as a 1-D attribute (what h5py
 * writes for a list of str). */
int gn_attr_write_vlen_strs(hid_t file, const char *obj, const char *name, const char **vals, hsize_t n,
			    int utf8) {
	hid_t t, s, a;
	int rc = -1;
	t = H5Tcopy(H5T_C_S1);
	if (t < 0)
		return -1;
	if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII) < 0) {
		H5Tclose(t);
		return -1;
	}
	s = H5Screate_simple(1, &n, NULL);
	if (s >= 0) {
		a = H5Acreate_by_name(file, objname(obj), name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
		if (a >= 0) {
			if (n == 0 || H5Awrite(a, t, vals) >= 0)
				rc = 0;
			H5Aclose(a);
		}
		H5Sclose(s);
	}
	H5Tclose(t);
	return rc;
}

/* gn_attr_write_empty_f64 writes an empty 1-D float64 attribute, as h5py writes np.array([]). */
int gn_attr_write_empty_f64(hid_t file, const char *obj, const char *name) {
	hid_t s, a;
	hsize_t zero = 0;
	int rc = -1;
	s = H5Screate_simple(1, &zero, NULL);
	if (s < 0)
		return -1;
	a = H5Acreate_by_name(file, objname(obj), name, H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT,
			      H5P_DEFAULT);
	if (a >= 0) {
		rc = 0;
		H5Aclose(a);
	}
	H5Sclose(s);
	return rc;
}

static hid_t filetype(int kind) {
	switch (kind) {
	case GN_F32:
		return H5T_IEEE_F32LE;
	case GN_F64:
		return H5T_IEEE_F64LE;
	case GN_U8:
		return H5T_STD_U8LE;
	case GN_I64:
		return H5T_STD_I64LE;
	}
	return -1;
}

/* gn_dset_create creates a contiguous little-endian dataset (rank 0: scalar). */
int gn_dset_create(hid_t file, const char *path, int kind, int rank, const hsize_t *dims) {
	hid_t s, d, t = filetype(kind);
	int rc = -1;
	if (t < 0)
		return -1;
	s = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
	if (s < 0)
		return -1;
	d = H5Dcreate2(file, path, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	if (d >= 0) {
		rc = 0;
		H5Dclose(d);
	}
	H5Sclose(s);
	return rc;
}

/* gn_open_objects counts the identifiers still open in the file besides the file itself. */
long gn_open_objects(hid_t file) {
	ssize_t n = H5Fget_obj_count(file, H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR);
	return (long)n;
}

/* gn_open_ids counts every file and object identifier open in the library. */
long gn_open_ids(void) { return (long)H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL); }

/* gn_dset_layout describes where a dataset's data is: its layout, a contiguous dataset's file
 * offset, a chunked one's chunk shape and how many chunks are stored, and its filters. */
int gn_dset_layout(hid_t file, const char *path, gn_layout *out) {
	hid_t d, p;
	int rc = -1, i, n;
	memset(out, 0, sizeof(*out));
	out->offset = -1;
	out->nchunks = -1;
	d = H5Dopen2(file, path, H5P_DEFAULT);
	if (d < 0)
		return -1;
	p = H5Dget_create_plist(d);
	if (p >= 0) {
		H5D_space_status_t st;
		out->layout = (int)H5Pget_layout(p);
		if (H5Dget_space_status(d, &st) >= 0)
			out->space_status = (int)st;
		else
			out->space_status = -1;
		if (out->layout == H5D_CONTIGUOUS) {
			haddr_t a = H5Dget_offset(d);
			if (a != HADDR_UNDEF && a < (haddr_t)1 << 62)
				out->offset = (long long)a;
		}
		if (out->layout == H5D_CHUNKED) {
			hsize_t nc = 0;
			hid_t sp = H5Dget_space(d);
			out->chunk_rank = H5Pget_chunk(p, GN_MAX_RANK, out->chunk);
			if (sp >= 0) {
				if (H5Dget_num_chunks(d, sp, &nc) >= 0)
					out->nchunks = (long long)nc;
				H5Sclose(sp);
			}
		}
		n = H5Pget_nfilters(p);
		out->nfilters = n;
		for (i = 0; i < n && i < 8; i++) {
			unsigned flags = 0, fc = 0;
			size_t nv = 0;
			out->filters[i] = (int)H5Pget_filter2(p, (unsigned)i, &flags, &nv, NULL, 0, NULL, &fc);
		}
		if (out->layout >= 0 && out->chunk_rank >= 0 && n >= 0)
			rc = 0;
		H5Pclose(p);
	}
	H5Dclose(d);
	return rc;
}

/* gn_obj_addr is the object's address in the file (the same for every hard link to it) and
 * its number of hard links. */
int gn_obj_addr(hid_t file, const char *path, unsigned long long *addr, unsigned *refs) {
	H5O_info_t oi;
	if (H5Oget_info_by_name2(file, objname(path), &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
		return -1;
	*addr = (unsigned long long)oi.addr;
	*refs = oi.rc;
	return 0;
}

typedef struct {
	char *buf;
	size_t len, cap;
	long count, max;
} gn_names;

static herr_t gn_child_cb(hid_t g, const char *name, const H5L_info_t *info, void *data) {
	gn_names *n = (gn_names *)data;
	size_t l = strlen(name) + 1;
	(void)g;
	(void)info;
	if (n->count >= n->max)
		return 1; /* stop: too many */
	if (n->len + l > n->cap) {
		size_t c = n->cap ? 2 * n->cap : 4096;
		char *b;
		while (c < n->len + l)
			c *= 2;
		b = (char *)realloc(n->buf, c);
		if (b == NULL)
			return -1;
		n->buf = b;
		n->cap = c;
	}
	memcpy(n->buf + n->len, name, l);
	n->len += l;
	n->count++;
	return 0;
}

/* gn_children lists a group's links in name order in one pass (at most max of them: *count
 * is then max+1 when there are more): NUL-separated names in a malloc'd buffer of *total
 * bytes. NULL on error (or an empty group: *count 0). */
char *gn_children(hid_t file, const char *group, long max, size_t *total, long *count) {
	gn_names n = {NULL, 0, 0, 0, max};
	hsize_t idx = 0;
	herr_t r;
	*total = 0;
	*count = -1;
	r = H5Literate_by_name(file, objname(group), H5_INDEX_NAME, H5_ITER_INC, &idx, gn_child_cb, &n,
			       H5P_DEFAULT);
	if (r < 0) {
		free(n.buf);
		return NULL;
	}
	*total = n.len;
	*count = r > 0 ? max + 1 : n.count;
	return n.buf;
}

/* gn_dset_create_chunked creates a chunked dataset (maxdims NULL: fixed; an entry 0 there:
 * unlimited), deflated at the given level (0: not). */
int gn_dset_create_chunked(hid_t file, const char *path, int kind, int rank, const hsize_t *dims,
			   const hsize_t *maxdims, const hsize_t *chunk, int deflate) {
	hid_t s, d, p, t = filetype(kind);
	hsize_t mx[GN_MAX_RANK];
	int rc = -1, i;
	if (t < 0 || rank <= 0 || rank > GN_MAX_RANK)
		return -1;
	for (i = 0; i < rank; i++)
		mx[i] = maxdims == NULL ? dims[i] : (maxdims[i] == 0 ? H5S_UNLIMITED : maxdims[i]);
	s = H5Screate_simple(rank, dims, mx);
	if (s < 0)
		return -1;
	p = H5Pcreate(H5P_DATASET_CREATE);
	if (p >= 0 && H5Pset_chunk(p, rank, chunk) >= 0 && (deflate == 0 || H5Pset_deflate(p, (unsigned)deflate) >= 0)) {
		d = H5Dcreate2(file, path, t, s, H5P_DEFAULT, p, H5P_DEFAULT);
		if (d >= 0) {
			rc = 0;
			H5Dclose(d);
		}
	}
	if (p >= 0)
		H5Pclose(p);
	H5Sclose(s);
	return rc;
}

/* gn_dset_write_chunk writes one chunk's bytes as they are stored (already compressed) at the
 * chunk's logical offset. */
int gn_dset_write_chunk(hid_t file, const char *path, int rank, const hsize_t *offset, unsigned mask,
			const void *buf, size_t size) {
	hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
	int rc = -1;
	(void)rank;
	if (d < 0)
		return -1;
	if (H5Dwrite_chunk(d, H5P_DEFAULT, mask, offset, size, buf) >= 0)
		rc = 0;
	H5Dclose(d);
	return rc;
}

/* gn_link_hard makes name a hard link to the object target. */
int gn_link_hard(hid_t file, const char *target, const char *name) {
	return H5Lcreate_hard(file, objname(target), file, name, H5P_DEFAULT, H5P_DEFAULT) < 0 ? -1 : 0;
}

/* gn_attr_delete removes an attribute. */
int gn_attr_delete(hid_t file, const char *obj, const char *name) {
	return H5Adelete_by_name(file, objname(obj), name, H5P_DEFAULT) < 0 ? -1 : 0;
}
