#include <natcheck/error.h>

#include <string.h>

static const char *const nc_err_msgs[] = {
#define NC_ERR_MSG_(name, msg) msg,
	NC_ERROR_TABLE(NC_ERR_MSG_)
#undef NC_ERR_MSG_
};

static const char *const nc_err_names[] = {
#define NC_ERR_NAME_(name, msg) "NC_E_" #name,
	NC_ERROR_TABLE(NC_ERR_NAME_)
#undef NC_ERR_NAME_
};

const char *nc_strerror(int err)
{
	int code = -err;

	if (err >= 0)
		return "success";
	if (code >= NC_ERR_BASE && code < NC_ERR_END_)
		return nc_err_msgs[code - NC_ERR_BASE];
	if (code < NC_ERR_BASE)
		return strerror(code);
	return "unknown error";
}

const char *nc_errname(int err)
{
	int code = -err;

	if (err >= 0)
		return "OK";
	if (code >= NC_ERR_BASE && code < NC_ERR_END_)
		return nc_err_names[code - NC_ERR_BASE];
	return "errno";
}
