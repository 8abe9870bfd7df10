/* A read-only libhdf5 file driver on an open file descriptor ("goodnet-fd"): libhdf5 reads
 * the file the descriptor is open on, with pread, and never opens a path. goodnet's loaders
 * open a stranger's file once and hand that descriptor to the child that parses it; the file
 * read is then the one opened, whatever its name points to by then (a replaced file, a
 * re-pointed symbolic link), and libhdf5 has no name to resolve (its sec2 driver resolves a
 * symbolic link such as /proc/self/fd/N with realpath, which fails for a file since replaced
 * or a memfd). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "shim.h"

typedef struct {
	H5FD_t pub; /* first: libhdf5's public part */
	int fd;     /* our own dup of the descriptor */
	haddr_t eoa, eof;
	dev_t dev;
	ino_t ino;
} gn_fd_t;

#define GN_FD_MAXADDR (((haddr_t)1 << (8 * sizeof(off_t) - 1)) - 1)

static void gn_fd_err(const char *msg) {
	H5Epush2(H5E_DEFAULT, __FILE__, "goodnet-fd", __LINE__, H5E_ERR_CLS, H5E_VFL, H5E_READERROR, "%s", msg);
}

static H5FD_t *gn_fd_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
	int fd = -1;
	struct stat st;
	gn_fd_t *f;
	(void)fapl;
	(void)maxaddr;
	if (flags & (H5F_ACC_RDWR | H5F_ACC_TRUNC | H5F_ACC_CREAT)) {
		gn_fd_err("goodnet-fd files are read-only");
		return NULL;
	}
	if (sscanf(name, "goodnet-fd:%d", &fd) != 1 || fd < 0) {
		gn_fd_err("not a goodnet-fd name");
		return NULL;
	}
	fd = dup(fd);
	if (fd < 0) {
		gn_fd_err("cannot duplicate the descriptor");
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		gn_fd_err("not a regular file");
		return NULL;
	}
	f = (gn_fd_t *)calloc(1, sizeof(gn_fd_t));
	if (f == NULL) {
		close(fd);
		gn_fd_err("out of memory");
		return NULL;
	}
	f->fd = fd;
	f->eof = (haddr_t)st.st_size;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	return (H5FD_t *)f;
}

static herr_t gn_fd_close(H5FD_t *file) {
	gn_fd_t *f = (gn_fd_t *)file;
	close(f->fd);
	free(f);
	return 0;
}

static int gn_fd_cmp(const H5FD_t *a, const H5FD_t *b) {
	const gn_fd_t *x = (const gn_fd_t *)a, *y = (const gn_fd_t *)b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

static herr_t gn_fd_query(const H5FD_t *file, unsigned long *flags) {
	(void)file;
	*flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
		 H5FD_FEAT_AGGREGATE_SMALLDATA;
	return 0;
}

static haddr_t gn_fd_get_eoa(const H5FD_t *file, H5FD_mem_t type) {
	(void)type;
	return ((const gn_fd_t *)file)->eoa;
}

static herr_t gn_fd_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr) {
	(void)type;
	((gn_fd_t *)file)->eoa = addr;
	return 0;
}

static haddr_t gn_fd_get_eof(const H5FD_t *file, H5FD_mem_t type) {
	(void)type;
	return ((const gn_fd_t *)file)->eof;
}

static herr_t gn_fd_get_handle(H5FD_t *file, hid_t fapl, void **handle) {
	(void)fapl;
	*handle = &((gn_fd_t *)file)->fd;
	return 0;
}

/* read: as sec2, bytes past the end of the file read as zeros */
static herr_t gn_fd_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buf) {
	gn_fd_t *f = (gn_fd_t *)file;
	unsigned char *p = (unsigned char *)buf;
	(void)type;
	(void)dxpl;
	if (addr == HADDR_UNDEF || addr > GN_FD_MAXADDR || size > GN_FD_MAXADDR - addr || addr + size > f->eoa) {
		gn_fd_err("read out of range");
		return -1;
	}
	while (size > 0) {
		ssize_t n = pread(f->fd, p, size > (1 << 30) ? (1 << 30) : size, (off_t)addr);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			gn_fd_err("read failed");
			return -1;
		}
		if (n == 0) {
			memset(p, 0, size);
			break;
		}
		p += n;
		addr += (haddr_t)n;
		size -= (size_t)n;
	}
	return 0;
}

static herr_t gn_fd_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void *buf) {
	(void)file;
	(void)type;
	(void)dxpl;
	(void)addr;
	(void)size;
	(void)buf;
	gn_fd_err("goodnet-fd files are read-only");
	return -1;
}

static herr_t gn_fd_truncate(H5FD_t *file, hid_t dxpl, hbool_t closing) {
	(void)file;
	(void)dxpl;
	(void)closing;
	return 0;
}

static const H5FD_class_t gn_fd_class = {
	"goodnet-fd",          /* name */
	GN_FD_MAXADDR,         /* maxaddr */
	H5F_CLOSE_WEAK,        /* fc_degree */
	NULL,                  /* terminate */
	NULL, NULL, NULL,      /* sb_size, sb_encode, sb_decode */
	0, NULL, NULL, NULL,   /* fapl_size, fapl_get, fapl_copy, fapl_free */
	0, NULL, NULL,         /* dxpl_size, dxpl_copy, dxpl_free */
	gn_fd_open,            /* open */
	gn_fd_close,           /* close */
	gn_fd_cmp,             /* cmp */
	gn_fd_query,           /* query */
	NULL,                  /* get_type_map */
	NULL, NULL,            /* alloc, free */
	gn_fd_get_eoa,         /* get_eoa */
	gn_fd_set_eoa,         /* set_eoa */
	gn_fd_get_eof,         /* get_eof */
	gn_fd_get_handle,      /* get_handle */
	gn_fd_read,            /* read */
	gn_fd_write,           /* write */
	NULL,                  /* flush */
	gn_fd_truncate,        /* truncate */
	NULL, NULL,            /* lock, unlock */
	H5FD_FLMAP_DICHOTOMY,  /* fl_map */
};

static hid_t gn_fd_driver = -1;

/* gn_open_fd opens the HDF5 file on descriptor fd read-only (a negative id on error). */
hid_t gn_open_fd(int fd) {
	hid_t fapl, file;
	char name[64];
	if (gn_fd_driver < 0) {
		gn_fd_driver = H5FDregister(&gn_fd_class);
		if (gn_fd_driver < 0)
			return -1;
	}
	fapl = H5Pcreate(H5P_FILE_ACCESS);
	if (fapl < 0)
		return -1;
	if (H5Pset_driver(fapl, gn_fd_driver, NULL) < 0) {
		H5Pclose(fapl);
		return -1;
	}
	snprintf(name, sizeof(name), "goodnet-fd:%d", fd);
	file = H5Fopen(name, H5F_ACC_RDONLY, fapl);
	H5Pclose(fapl);
	return file;
}

int gn_close_file(hid_t file) { return H5Fclose(file) < 0 ? -1 : 0; }
